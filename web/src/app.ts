// livebot's call page: one click to join, then the call's live state.

import { DeviceError, type BotOutputData, type LLMFunctionCallInProgressData, type LLMFunctionCallStoppedData, type RTVIMessage, type TranscriptData, type TransportState } from "@pipecat-ai/client-js";
import { connectParams, createCall, type Call, type IceServer } from "./call";
import { rms } from "./media";
import {
  CONNECTION_FAILED,
  CONNECTION_LOST,
  MISSING_TOKEN,
  SERVER_UNREACHABLE,
  deviceMessage,
  echoMessage,
  refusalMessage,
  type Level,
  type Message,
} from "./messages";
import { forget, left, pending, remember } from "./rejoin";
import { Transcript, type Turn } from "./transcript";

const CONNECT_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------- DOM helpers

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from the page`);
  return el as T;
}

function h(tag: string, props: Record<string, string> = {}, ...children: (Node | string | null)[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") el.className = v;
    else if (k.startsWith("data-")) el.setAttribute(k, v);
    else el.setAttribute(k, v);
  }
  for (const c of children) if (c !== null) el.append(c);
  return el;
}

const ui = {
  roomTitle: $("room-title"),
  roomName: $("room-name"),
  conn: $("conn"),
  connText: $("conn-text"),
  alert: $("alert"),
  alertTitle: $("alert-title"),
  alertText: $("alert-text"),
  alertClose: $<HTMLButtonElement>("alert-close"),
  info: $("info"),
  infoTitle: $("info-title"),
  infoText: $("info-text"),
  lobby: $("lobby"),
  join: $<HTMLButtonElement>("join"),
  call: $("call"),
  micMeter: $("mic-meter"),
  botMeter: $("bot-meter"),
  speaking: $("speaking"),
  mute: $<HTMLButtonElement>("mute"),
  hangup: $<HTMLButtonElement>("hangup"),
  transcript: $("transcript"),
  transcriptEmpty: $("transcript-empty"),
  say: $<HTMLFormElement>("say"),
  sayText: $<HTMLInputElement>("say-text"),
  saySend: $<HTMLButtonElement>("say-send"),
  tools: $("tools"),
  toolsEmpty: $("tools-empty"),
  lights: $("lights"),
  lightsEmpty: $("lights-empty"),
  calendar: $("calendar"),
  calendarEmpty: $("calendar-empty"),
  botAudio: $<HTMLAudioElement>("bot-audio"),
};

// ---------------------------------------------------------------- banners and state

function showAlert(message: Message): void {
  if (message.level === "info") return showInfo(message);
  ui.alert.dataset.level = message.level;
  ui.alertTitle.textContent = message.title;
  ui.alertText.textContent = message.text;
  ui.alert.hidden = false;
}

function hideAlert(): void {
  ui.alert.hidden = true;
}

function showInfo(message: Message): void {
  ui.infoTitle.textContent = message.title;
  ui.infoText.textContent = message.text;
  ui.info.hidden = false;
}

function hideInfo(): void {
  ui.info.hidden = true;
}

type ConnState = "idle" | "connecting" | "connected" | "reconnecting" | "failed";

function setConn(state: ConnState, text: string): void {
  ui.conn.dataset.state = state;
  if (ui.connText.textContent !== text) ui.connText.textContent = text;
}

function setMeter(el: HTMLElement, level: number): void {
  const pct = Math.round(Math.max(0, Math.min(1, level)) * 100);
  (el.firstElementChild as HTMLElement).style.width = `${pct}%`;
  el.setAttribute("aria-valuenow", String(pct));
  const peak = Number(el.dataset.peak ?? "0");
  if (pct > peak) el.dataset.peak = String(pct);
}

// ---------------------------------------------------------------- the room link

const pathRoom = decodeURIComponent(location.pathname.match(/^\/r\/([^/]+)/)?.[1] ?? "");
const linkToken = new URLSearchParams(location.search).get("t") ?? "";

function setRoom(title: string, name: string): void {
  ui.roomTitle.textContent = title || name || "livebot";
  ui.roomName.textContent = title && name && title !== name ? `Room ${name}` : name ? "livebot room" : "";
  document.title = title || name ? `${title || name} · livebot` : "livebot";
}
setRoom("", pathRoom);

// ---------------------------------------------------------------- transcript

const turnEls = new Map<number, HTMLElement>();
const transcript = new Transcript((turn: Turn) => renderTurn(turn));

function renderTurn(turn: Turn): void {
  let li = turnEls.get(turn.id);
  if (!li) {
    li = h("li", { class: turn.role });
    li.append(h("span", { class: "who" }, turn.role === "user" ? (turn.typed ? "You (typed)" : "You") : "Bot"), h("span", { class: "text" }));
    turnEls.set(turn.id, li);
    ui.transcript.append(li);
    ui.transcriptEmpty.hidden = true;
  }
  li.dataset.final = String(turn.final);
  (li.querySelector(".text") as HTMLElement).textContent = turn.text;
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
}

// ---------------------------------------------------------------- tool activity

type ToolState = "running" | "done" | "failed" | "cancelled";
interface ToolEntry {
  li: HTMLElement;
  fromServer: boolean;
}
const toolEntries = new Map<string, ToolEntry>();
const STATE_TEXT: Record<ToolState, string> = { running: "running", done: "done", failed: "failed", cancelled: "cancelled" };

function toolUpdate(
  callId: string,
  fields: { name?: string; state: ToolState; scheduling?: string | null; behavior?: string | null; summary?: string | null },
  fromServer: boolean,
): void {
  let entry = toolEntries.get(callId);
  if (entry && entry.fromServer && !fromServer) return; // the server's account is richer
  if (!entry) {
    const li = h("li", { "data-call-id": callId });
    li.append(h("span", { class: "name" }), h("span", { class: "state" }), h("span", { class: "tag scheduling" }), h("span", { class: "tag behavior" }), h("span", { class: "summary" }));
    entry = { li, fromServer };
    toolEntries.set(callId, entry);
    ui.tools.prepend(li);
    ui.toolsEmpty.hidden = true;
  }
  entry.fromServer ||= fromServer;
  const li = entry.li;
  const set = (sel: string, text: string | null | undefined) => {
    const el = li.querySelector(sel) as HTMLElement;
    if (text === undefined) return;
    el.textContent = text ?? "";
    el.hidden = !text;
  };
  if (fields.name) set(".name", fields.name);
  else if (!li.querySelector(".name")?.textContent) set(".name", "tool");
  const state = li.querySelector(".state") as HTMLElement;
  state.dataset.state = fields.state;
  state.textContent = STATE_TEXT[fields.state] ?? fields.state;
  li.dataset.state = fields.state;
  if (fields.scheduling !== undefined) {
    set(".scheduling", fields.scheduling ? fields.scheduling.toLowerCase().replace("_", " ") : null);
    (li.querySelector(".scheduling") as HTMLElement).title = "When the bot speaks about the result";
    li.dataset.scheduling = fields.scheduling ?? "";
  }
  if (fields.behavior !== undefined) set(".behavior", fields.behavior ? fields.behavior.toLowerCase().replace("_", "-") : null);
  if (fields.summary !== undefined) set(".summary", fields.summary);
}

// ---------------------------------------------------------------- lights and calendar

interface Light {
  name: string;
  room?: string | null;
  on: boolean;
  brightness: number;
  color_temp_kelvin?: number | null;
  reachable: boolean;
}

function renderLights(lights: Light[]): void {
  ui.lights.replaceChildren(
    ...lights.map((l) => {
      const parts = [l.on ? `on, ${Math.round(l.brightness)}%` : "off"];
      if (l.on && l.color_temp_kelvin) parts.push(`${l.color_temp_kelvin} K`);
      if (!l.reachable) parts.push("unreachable");
      const label = l.room && !l.name.toLowerCase().includes(l.room.toLowerCase()) ? `${l.name} (${l.room})` : l.name;
      return h(
        "li",
        { "data-on": String(l.on), "data-name": l.name, "data-reachable": String(l.reachable) },
        h("span", { class: "bulb", "aria-hidden": "true" }),
        h("span", { class: "lname" }, label),
        h("span", { class: "lstate" }, parts.join(" · ")),
      );
    }),
  );
  ui.lightsEmpty.hidden = lights.length > 0;
  ui.lightsEmpty.textContent = "No lights in this room.";
}

interface CalendarEvent {
  id?: string;
  title: string;
  start?: string;
  end?: string;
  when?: string;
}

function renderCalendar(events: CalendarEvent[]): void {
  ui.calendar.replaceChildren(
    ...events.map((e) => h("li", { "data-id": e.id ?? "" }, h("strong", {}, e.title || "(untitled)"), h("span", { class: "when" }, e.when || e.start || ""))),
  );
  ui.calendarEmpty.hidden = events.length > 0;
  ui.calendarEmpty.textContent = "Nothing coming up.";
}

// ---------------------------------------------------------------- server messages

function onServerMessage(data: unknown): void {
  if (!data || typeof data !== "object") return;
  const m = data as Record<string, unknown>;
  switch (m.type) {
    case "session": {
      const room = (m.room ?? {}) as { name?: string; title?: string };
      if (room.name || room.title) setRoom(room.title ?? "", room.name ?? pathRoom);
      if (m.mode === "echo") showInfo(echoMessage(String(m.message ?? "")));
      const rejoin = m.rejoin as { secret?: unknown; seconds?: unknown } | undefined;
      if (linkToken && typeof rejoin?.secret === "string") remember(linkToken, rejoin.secret, Number(rejoin.seconds) || 0);
      if (m.rejoined === true) showInfo({ level: "info", title: "Welcome back:", text: "the call goes on where you left it.", retry: false });
      break;
    }
    case "tool":
      toolUpdate(
        String(m.call_id ?? m.name),
        {
          name: String(m.name ?? "tool"),
          state: (m.state as ToolState) ?? "running",
          scheduling: (m.scheduling as string | null) ?? null,
          behavior: (m.behavior as string | null) ?? null,
          summary: (m.summary as string | null) ?? null,
        },
        true,
      );
      break;
    case "lights":
      if (Array.isArray(m.lights)) renderLights(m.lights as Light[]);
      break;
    case "calendar":
      if (Array.isArray(m.events)) renderCalendar(m.events as CalendarEvent[]);
      break;
    case "notice": {
      const level = (["info", "warning", "error"].includes(String(m.level)) ? m.level : "info") as Level;
      const text = String(m.text ?? "");
      if (level === "info") showInfo({ level, title: "", text, retry: true });
      else showAlert({ level, title: level === "error" ? "Problem:" : "Note:", text, retry: true });
      break;
    }
    case "transcript":
      if (m.role === "user") transcript.user(String(m.text ?? ""), Boolean(m.final), "server");
      else if (m.role === "bot") transcript.bot(String(m.text ?? ""), Boolean(m.final), "server");
      break;
  }
}

// ---------------------------------------------------------------- bot audio

let botTrack: MediaStreamTrack | null = null;
let botLevelTimer: ReturnType<typeof setInterval> | null = null;
let audioContext: AudioContext | null = null;

function attachBotAudio(track: MediaStreamTrack): void {
  if (track.kind !== "audio" || track === botTrack) return;
  botTrack = track;
  const stream = new MediaStream([track]);
  ui.botAudio.srcObject = stream;
  void ui.botAudio.play().catch(() => {});
  if (botLevelTimer) clearInterval(botLevelTimer);
  try {
    audioContext ??= new AudioContext();
    void audioContext.resume();
    const analyser = audioContext.createAnalyser();
    analyser.fftSize = 1024;
    audioContext.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    botLevelTimer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      setMeter(ui.botMeter, rms(samples));
    }, 50);
  } catch {
    // No WebAudio: the bot is still heard, the meter stays still.
  }
}

function detachBotAudio(): void {
  if (botLevelTimer) clearInterval(botLevelTimer);
  botLevelTimer = null;
  botTrack = null;
  ui.botAudio.srcObject = null;
  setMeter(ui.botMeter, 0);
}

// ---------------------------------------------------------------- the call

let call: Call | null = null;
let inCall = false;
let leaving = false;
let connStateTimer: ReturnType<typeof setInterval> | null = null;

function setSpeaking(text: string, speaking: boolean): void {
  ui.speaking.textContent = text;
  ui.speaking.dataset.speaking = String(speaking);
}

function callbacks() {
  return {
    onTransportStateChanged: (state: TransportState) => {
      if (state === "connecting" || state === "initializing") setConn("connecting", "Connecting…");
      if (state === "connected") setConn("connecting", "Waiting for the bot…");
      if (state === "ready") setConn("connected", "Connected");
    },
    onBotReady: () => setConn("connected", "Connected"),
    // While joining, a failure rejects connect() and join() reports it; these are for later.
    onDisconnected: () => {
      if (inCall && !leaving) {
        left(); // Join again comes back to this conversation while the bot keeps it
        void endCall(CONNECTION_LOST);
      }
    },
    onBotDisconnected: () => {
      if (inCall && !leaving) void endCall({ level: "info", title: "The bot hung up.", text: "Press Join call to call again.", retry: true });
    },
    onLocalAudioLevel: (level: number) => setMeter(ui.micMeter, level),
    onTrackStarted: (track: MediaStreamTrack, participant?: { local: boolean }) => {
      if (!participant?.local) attachBotAudio(track);
    },
    onBotStartedSpeaking: () => setSpeaking("Bot is speaking", true),
    onBotStoppedSpeaking: () => {
      setSpeaking("Listening", false);
      transcript.endTurn("bot");
    },
    onUserStartedSpeaking: () => setSpeaking("You are speaking", false),
    onUserStoppedSpeaking: () => setSpeaking("Listening", false),
    onUserTranscript: (data: TranscriptData) => transcript.user(data.text ?? "", Boolean(data.final), "rtvi"),
    onBotOutput: (data: BotOutputData) => transcript.bot(data.text ?? "", false, "rtvi", data.segment_id),
    onLLMFunctionCallInProgress: (data: LLMFunctionCallInProgressData) => {
      if (data.tool_call_id) toolUpdate(data.tool_call_id, { name: data.function_name, state: "running" }, false);
    },
    onLLMFunctionCallStopped: (data: LLMFunctionCallStoppedData) => {
      if (data.tool_call_id) toolUpdate(data.tool_call_id, { name: data.function_name, state: data.cancelled ? "cancelled" : "done" }, false);
    },
    onServerMessage,
    onError: (message: RTVIMessage) => {
      const data = (message.data ?? {}) as { error?: string; message?: string; fatal?: boolean };
      const text = data.error || data.message || "The bot reported an error.";
      showAlert({ level: data.fatal ? "error" : "warning", title: data.fatal ? "The call stopped:" : "The bot reported a problem:", text, retry: true });
    },
  };
}

async function readRefusal(response: Response): Promise<Message> {
  let body: Record<string, unknown> = {};
  try {
    body = (await response.clone().json()) as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  const retryAfter = Number(response.headers.get("Retry-After"));
  return refusalMessage(response.status, body.reason, body.detail, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null);
}

interface JoinResponse {
  room?: { name?: string; title?: string };
  ticket: string;
  ice_servers?: IceServer[];
  ice_transport_policy?: RTCIceTransportPolicy;
  mode?: "live" | "echo";
  message?: string;
  rejoined?: boolean;
}

async function join(): Promise<void> {
  hideAlert();
  hideInfo();
  if (!linkToken) return showAlert(MISSING_TOKEN);
  ui.join.disabled = true;
  leaving = false;
  try {
    // 1. The microphone first: a denial must not spend the link.
    setConn("connecting", "Opening the microphone…");
    call = createCall(callbacks());
    try {
      await call.client.initDevices();
    } catch (e) {
      await releaseCall();
      showAlert(deviceMessage(e instanceof DeviceError ? e.type : "unknown"));
      setConn("idle", "Not connected");
      return;
    }

    // 2. The link: a ticket for this call (and the ICE servers to use).
    setConn("connecting", "Joining the room…");
    let response: Response;
    const rejoin = pending(linkToken); // a call this tab left: come back to it
    forget(); // single use: the bot gives this call a new one
    try {
      response = await fetch("/api/join", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(rejoin ? { token: linkToken, rejoin } : { token: linkToken }),
        credentials: "same-origin",
      });
    } catch {
      await releaseCall();
      showAlert(SERVER_UNREACHABLE);
      setConn("failed", "Not connected");
      return;
    }
    if (!response.ok) {
      await releaseCall();
      showAlert(await readRefusal(response));
      setConn("failed", "Not connected");
      return;
    }
    const joined = (await response.json()) as JoinResponse;
    if (joined.room) setRoom(joined.room.title ?? "", joined.room.name ?? pathRoom);
    if (joined.mode === "echo") showInfo(echoMessage(joined.message ?? ""));

    // 3. The call.
    showCallView();
    setConn("connecting", "Connecting…");
    call.transport.iceTransportPolicy = joined.ice_transport_policy ?? "all";
    const connected = call.client.connect(connectParams(joined.ticket, joined.ice_servers ?? []));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), CONNECT_TIMEOUT_MS)));
    try {
      const result = await Promise.race([connected, timeout]);
      if (result === "timeout" && call?.client.state !== "ready") throw new Error("timed out");
    } finally {
      clearTimeout(timer);
    }
    inCall = true;
    setConn("connected", "Connected");
    watchConnection();
    ui.mute.focus();
  } catch (e) {
    const cause = (e as { cause?: unknown }).cause;
    const message = cause instanceof Response ? await readRefusal(cause) : CONNECTION_FAILED;
    leaving = true;
    await releaseCall();
    showLobby();
    showAlert(message);
    setConn("failed", "Not connected");
  } finally {
    ui.join.disabled = false;
  }
}

/** The state of the peer connection, which the transport replaces when it renegotiates. */
function watchConnection(): void {
  if (connStateTimer) clearInterval(connStateTimer);
  connStateTimer = setInterval(() => {
    const pc = call?.transport.peerConnection;
    if (!pc || !inCall) return;
    // After a renegotiation the bot's audio comes on the new connection's receiver; its
    // track may never fire the "unmute" the transport reports tracks on, so follow it here.
    const remote = pc.getReceivers().find((r) => r.track?.kind === "audio")?.track;
    if (remote && remote.readyState === "live" && remote !== botTrack) attachBotAudio(remote);
    const ice = pc.iceConnectionState;
    if (ice === "connected" || ice === "completed") setConn("connected", "Connected");
    else if (ice === "disconnected" || ice === "failed") setConn("reconnecting", "Reconnecting…");
    else if (ice === "checking" || ice === "new") setConn("reconnecting", "Reconnecting…");
  }, 500);
}

async function releaseCall(): Promise<void> {
  const current = call;
  call = null;
  if (!current) return;
  try {
    await current.client.disconnect();
  } catch {
    // Already down.
  }
  await current.media.disconnect();
}

async function endCall(message: Message | null): Promise<void> {
  if (!inCall) return;
  inCall = false;
  leaving = true;
  if (connStateTimer) clearInterval(connStateTimer);
  connStateTimer = null;
  await releaseCall();
  detachBotAudio();
  setMeter(ui.micMeter, 0);
  showLobby();
  setConn("idle", "Not connected");
  if (message) showAlert(message);
  else showInfo({ level: "info", title: "Call ended.", text: "Press Join call to call again.", retry: true });
}

function resetPanels(): void {
  transcript.reset();
  turnEls.clear();
  ui.transcript.replaceChildren();
  ui.transcriptEmpty.hidden = false;
  toolEntries.clear();
  ui.tools.replaceChildren();
  ui.toolsEmpty.hidden = false;
}

function showCallView(): void {
  resetPanels();
  ui.lobby.hidden = true;
  ui.call.hidden = false;
  ui.mute.setAttribute("aria-pressed", "false");
  ui.mute.textContent = "Mute";
  setSpeaking("Listening", false);
}

function showLobby(): void {
  ui.call.hidden = true;
  ui.lobby.hidden = false;
  ui.join.textContent = "Join call";
  ui.join.focus();
}

// ---------------------------------------------------------------- controls

ui.join.addEventListener("click", () => void join());
ui.hangup.addEventListener("click", () => {
  leaving = true;
  forget(); // hung up: a reload is a new call
  void endCall(null);
});
ui.mute.addEventListener("click", () => {
  if (!call) return;
  const muted = ui.mute.getAttribute("aria-pressed") !== "true";
  call.client.enableMic(!muted);
  ui.mute.setAttribute("aria-pressed", String(muted));
  ui.mute.textContent = muted ? "Unmute" : "Mute";
  if (muted) setMeter(ui.micMeter, 0);
});
ui.say.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = ui.sayText.value.trim();
  if (!text || !call || !inCall) return;
  // RTVI send-text: Pipecat's RTVIProcessor appends it to the context as the user's
  // turn and runs the LLM, which the Live stage sends to Gemini as client content.
  void call.client.sendText(text).catch(() => showAlert({ level: "warning", title: "Not sent:", text: "the message could not be sent.", retry: true }));
  transcript.typed(text);
  ui.sayText.value = "";
});
ui.alertClose.addEventListener("click", () => {
  hideAlert();
  (inCall ? ui.mute : ui.join).focus();
});
window.addEventListener("offline", () => {
  if (inCall) setConn("reconnecting", "Offline: reconnecting when the network is back…");
});
window.addEventListener("pagehide", () => {
  if (inCall) {
    left(); // a reload comes back to this call (rejoin.ts)
    leaving = true;
    void call?.client.disconnect();
  }
});

// Read-only hooks for tests and curious developers: what the page received.
(window as unknown as { livebot: unknown }).livebot = {
  async inboundAudio() {
    const pc = call?.transport.peerConnection;
    if (!pc) return null;
    const stats = await pc.getStats();
    for (const s of stats.values()) {
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        return { packetsReceived: s.packetsReceived ?? 0, totalAudioEnergy: s.totalAudioEnergy ?? 0, audioLevel: s.audioLevel ?? 0 };
      }
    }
    return null;
  },
  state: () => ({
    inCall,
    transport: call?.client.state ?? null,
    ice: call?.transport.peerConnection?.iceConnectionState ?? null,
    mic: call?.transport.peerConnection?.getTransceivers()[0]?.sender.track?.readyState ?? null,
  }),
  /** Do what the transport does when ICE fails: a new peer connection offered with restart_pc. */
  restartConnection: () => (call?.transport as unknown as { attemptReconnection(recreate: boolean): Promise<void> } | undefined)?.attemptReconnection(true),
};

if (!linkToken) showAlert(MISSING_TOKEN);
else if (pending(linkToken)) void join(); // reloaded in a call: come back to it
