// The caller's camera or screen, shown to the bot: the buttons, the preview, the indicator.
//
// Why the page's own code and not the client's enableCam(): Pipecat's client opens a
// camera at initDevices() when enableCam is set (before the caller chose to show
// anything) and its transport has one video transceiver per source. Here video is off
// until the caller presses a button, and the one track goes onto the transport's
// existing sendrecv video transceiver with replaceTrack(): the same peer connection,
// no renegotiation, the microphone's sender untouched, so audio goes on without a gap.
// The media manager keeps the track too, so an ICE restart's new peer connection
// sends it again (the transport's addUserMedia reads tracks().local.video).

import type { Message } from "./messages";

export type VideoSource = "camera" | "screen";
type Facing = "user" | "environment";

/** What the camera asks for: enough for MEDIUM (768 px) without costing the phone much. */
const CAMERA_CONSTRAINTS: MediaTrackConstraints = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 15, max: 30 } };
const SCREEN_CONSTRAINTS: MediaTrackConstraints = { frameRate: { ideal: 5, max: 15 } };

function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} missing from the page`);
  return found as T;
}

/** Whether this browser can share a screen at all (phones and some webviews cannot). */
export function canShareScreen(): boolean {
  return typeof navigator.mediaDevices?.getDisplayMedia === "function";
}

/** A phone or tablet whose camera can be chosen front / back with facingMode. */
export function canChooseFacing(): boolean {
  const supported = navigator.mediaDevices?.getSupportedConstraints?.().facingMode ?? false;
  return supported && matchMedia("(pointer: coarse)").matches;
}

function errorName(e: unknown): string {
  return e instanceof Error || e instanceof DOMException ? e.name : "";
}

function failure(source: VideoSource, e: unknown): Message {
  const what = source === "camera" ? "the camera" : "your screen";
  switch (errorName(e)) {
    case "NotAllowedError":
    case "SecurityError":
      return { level: "warning", title: `No access to ${what}.`, text: "Allow it in the browser's site settings to show it to the bot.", retry: false };
    case "NotFoundError":
    case "OverconstrainedError":
      return { level: "warning", title: source === "camera" ? "No camera found." : "Nothing to share.", text: "The call goes on with audio.", retry: false };
    case "NotReadableError":
    case "AbortError":
      return { level: "warning", title: `Could not start ${what}.`, text: "Another app may be using it. The call goes on with audio.", retry: false };
    default:
      return { level: "warning", title: `Could not show ${what}.`, text: "The call goes on with audio.", retry: false };
  }
}

export class CallerVideo {
  private readonly controls = el("video-controls");
  private readonly cameraButton = el<HTMLButtonElement>("camera");
  private readonly screenButton = el<HTMLButtonElement>("screen");
  private readonly facing = el<HTMLSelectElement>("camera-facing");
  private readonly seeing = el("seeing");
  private readonly seeingText = el("seeing-text");
  private readonly preview = el("preview");
  private readonly previewVideo = el<HTMLVideoElement>("preview-video");
  private readonly previewClose = el<HTMLButtonElement>("preview-close");
  private readonly previewShow = el<HTMLButtonElement>("preview-show");
  private allowed = new Set<string>();
  private track: MediaStreamTrack | null = null;
  private source: VideoSource | null = null;
  private busy = false;
  private told = false; // the session message said what the caller may show

  constructor(
    /** The call's current peer connection (the transport replaces it on an ICE restart). */
    private readonly peerConnection: () => RTCPeerConnection | null,
    /** Tells the media manager which video track the call sends (null: none). */
    private readonly setTrack: (track: MediaStreamTrack | null) => void,
    private readonly say: (message: Message) => void,
  ) {
    this.cameraButton.addEventListener("click", () => void this.toggle("camera"));
    this.screenButton.addEventListener("click", () => void this.toggle("screen"));
    this.facing.addEventListener("change", () => {
      if (this.source === "camera") void this.start("camera");
    });
    this.previewClose.addEventListener("click", () => this.showPreview(false));
    this.previewShow.addEventListener("click", () => this.showPreview(true));
  }

  /** The session message says what the caller may show: show those buttons (video stays off). */
  allow(sources: unknown): void {
    this.allowed = new Set(Array.isArray(sources) ? sources.map(String) : []);
    this.told = true;
    const camera = this.allowed.has("camera") && typeof navigator.mediaDevices?.getUserMedia === "function";
    const screen = this.allowed.has("screen") && canShareScreen();
    this.cameraButton.hidden = !camera;
    this.screenButton.hidden = !screen;
    this.facing.hidden = !(camera && canChooseFacing());
    this.controls.hidden = !(camera || screen);
  }

  /** The call ended: stop showing anything and hide the buttons until the next session. */
  async reset(): Promise<void> {
    await this.stop();
    this.allow([]);
    this.told = false;
  }

  async toggle(source: VideoSource): Promise<void> {
    if (this.busy) return;
    if (this.source === source) await this.stop();
    else await this.start(source);
  }

  async start(source: VideoSource): Promise<void> {
    const sender = this.sender();
    if (!sender) {
      this.say({ level: "warning", title: "Cannot show video on this call.", text: "The connection has no video channel. The call goes on with audio.", retry: false });
      return;
    }
    this.busy = true;
    try {
      let stream: MediaStream;
      try {
        stream =
          source === "camera"
            ? await navigator.mediaDevices.getUserMedia({ video: { ...CAMERA_CONSTRAINTS, facingMode: this.facingMode() }, audio: false })
            : await navigator.mediaDevices.getDisplayMedia({ video: SCREEN_CONSTRAINTS, audio: false });
      } catch (e) {
        this.failed(source, e);
        return;
      }
      const track = stream.getVideoTracks()[0];
      if (!track) {
        stream.getTracks().forEach((t) => t.stop());
        this.failed(source, new DOMException("no video track", "NotFoundError"));
        return;
      }
      const old = this.track;
      track.contentHint = source === "screen" ? "detail" : "motion";
      // The browser's own "Stop sharing" bar (or an unplugged camera) ends the track.
      track.addEventListener("ended", () => {
        if (this.track === track) void this.stop();
      });
      await (this.sender() ?? sender).replaceTrack(track);
      this.track = track;
      this.source = source;
      this.setTrack(track);
      old?.stop();
      this.previewVideo.srcObject = new MediaStream([track]);
      this.previewVideo.dataset.mirror = String(source === "camera" && this.facingMode() === "user");
      void this.previewVideo.play().catch(() => {});
      this.showPreview(true);
      this.render();
    } finally {
      this.busy = false;
    }
  }

  async stop(): Promise<void> {
    const track = this.track;
    this.track = null;
    this.source = null;
    this.setTrack(null);
    try {
      await this.sender()?.replaceTrack(null);
    } catch {
      // The connection is closing: nothing is sent anyway.
    }
    track?.stop();
    this.previewVideo.srcObject = null;
    this.preview.hidden = true;
    this.render();
  }

  /** What the page shows about video, for tests. */
  state(): { told: boolean; allowed: string[]; source: VideoSource | null; sending: string | null; preview: boolean } {
    const sending = this.sender()?.track?.readyState ?? null;
    return { told: this.told, allowed: [...this.allowed], source: this.source, sending, preview: !this.preview.hidden };
  }

  /** The transport's video transceiver's sender (index 1 of audio, video[, screen]). */
  private sender(): RTCRtpSender | null {
    const pc = this.peerConnection();
    const video = pc?.getTransceivers().find((t) => t.receiver.track?.kind === "video" && t.currentDirection !== "stopped");
    return video?.sender ?? null;
  }

  private facingMode(): Facing {
    return this.facing.hidden || this.facing.value !== "environment" ? "user" : "environment";
  }

  private failed(source: VideoSource, e: unknown): void {
    // A browser that lists getDisplayMedia but cannot share here (a headless or kiosk
    // browser, a webview) says NotSupported / NotAllowed "by system": take the button away.
    const name = errorName(e);
    const message = e instanceof Error ? e.message : "";
    if (source === "screen" && (name === "NotSupportedError" || name === "InvalidStateError" || name === "TypeError" || /system/i.test(message))) {
      this.screenButton.hidden = true;
      this.controls.hidden = this.cameraButton.hidden;
      this.say({ level: "info", title: "Screen sharing is not available in this browser.", text: "The call goes on.", retry: false });
      return;
    }
    this.say(failure(source, e));
  }

  private showPreview(show: boolean): void {
    this.preview.hidden = !show || !this.track;
    this.previewShow.hidden = show || !this.track;
  }

  private render(): void {
    const on = (source: VideoSource, button: HTMLButtonElement, idle: string, active: string) => {
      const pressed = this.source === source;
      button.setAttribute("aria-pressed", String(pressed));
      button.textContent = pressed ? active : idle;
    };
    on("camera", this.cameraButton, "Camera", "Stop camera");
    on("screen", this.screenButton, "Share screen", "Stop sharing");
    this.seeing.hidden = !this.source;
    this.seeing.dataset.source = this.source ?? "";
    this.seeingText.textContent = this.source === "screen" ? "The bot can see your screen" : "The bot can see your camera";
    if (!this.track) this.previewShow.hidden = true;
  }
}
