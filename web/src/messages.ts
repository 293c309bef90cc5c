// What the caller reads when something goes wrong: one clear sentence each.

import type { DeviceErrorType } from "@pipecat-ai/client-js";

export type Level = "info" | "warning" | "error";

export interface Message {
  level: Level;
  title: string;
  text: string;
  /** Whether joining again can help. */
  retry: boolean;
}

export type Reason = "expired" | "invalid" | "used" | "unknown_room" | "full" | "rate_limited" | "unauthorized" | "bad_offer";

const STATUS_REASON: Record<number, Reason> = {
  400: "bad_offer",
  401: "unauthorized",
  403: "invalid",
  404: "unknown_room",
  409: "full",
  410: "expired",
  429: "rate_limited",
};

/** The reason for a refusal: the server's own word, else what its status means. */
export function reasonFor(status: number, reason?: unknown): Reason | null {
  if (typeof reason === "string" && reason in REFUSALS) return reason as Reason;
  return STATUS_REASON[status] ?? null;
}

function waitText(retryAfter: number | null): string {
  if (!retryAfter || retryAfter <= 0) return "Please wait a minute, then try again.";
  if (retryAfter < 90) return `Please wait ${Math.ceil(retryAfter)} seconds, then try again.`;
  return `Please wait ${Math.ceil(retryAfter / 60)} minutes, then try again.`;
}

const REFUSALS: Record<Reason, (retryAfter: number | null) => Message> = {
  expired: () => ({
    level: "error",
    title: "This link has expired",
    text: "Ask for a new link to the room.",
    retry: false,
  }),
  invalid: () => ({
    level: "error",
    title: "This link is not valid",
    text: "It may have been mistyped, changed or already used. Ask for a new link to the room.",
    retry: false,
  }),
  used: () => ({
    level: "error",
    title: "This call was already set up",
    text: "Its ticket was used by another connection. Reload the page and press Join call again.",
    retry: true,
  }),
  unknown_room: () => ({
    level: "error",
    title: "There is no such room",
    text: "Check the link, or ask for a new one.",
    retry: false,
  }),
  full: () => ({
    level: "error",
    title: "The room is full",
    text: "Someone else is already talking to the bot in this room. Try again when they have hung up.",
    retry: true,
  }),
  rate_limited: (retryAfter) => ({
    level: "error",
    title: "Too many attempts",
    text: waitText(retryAfter),
    retry: true,
  }),
  unauthorized: () => ({
    level: "error",
    title: "The call was refused",
    text: "The bot did not accept this call's ticket. Reload the page and join again.",
    retry: true,
  }),
  bad_offer: () => ({
    level: "error",
    title: "The call could not be set up",
    text: "The bot could not use what this browser offered. Try again, or try another browser.",
    retry: true,
  }),
};

/** A refusal from /api/join or /api/offer; `detail` is the server's sentence, shown too. */
export function refusalMessage(status: number, reason: unknown, detail: unknown, retryAfter: number | null): Message {
  const known = reasonFor(status, reason);
  const detailText = typeof detail === "string" && detail.trim() ? detail.trim() : "";
  if (known) {
    const message = REFUSALS[known](retryAfter);
    if (detailText) message.text = `${detailText} ${message.text}`;
    return message;
  }
  return {
    level: "error",
    title: "The bot could not take the call",
    text: detailText || `The server answered with an error (${status}). Try again in a moment.`,
    retry: true,
  };
}

export function deviceMessage(type: DeviceErrorType | string): Message {
  switch (type) {
    case "permissions":
      return {
        level: "error",
        title: "Microphone access was denied",
        text: "Allow the microphone for this page (look for the microphone or lock icon next to the address), then press Join call again.",
        retry: true,
      };
    case "not-found":
      return {
        level: "error",
        title: "No microphone found",
        text: "Connect a microphone or headset, then press Join call again. You can still type to the bot once a microphone works.",
        retry: true,
      };
    case "in-use":
      return {
        level: "error",
        title: "The microphone is busy",
        text: "Another app is using it. Close that app, then press Join call again.",
        retry: true,
      };
    case "undefined-mediadevices":
      return {
        level: "error",
        title: "This browser cannot use a microphone here",
        text: "Open the link in a current browser, over HTTPS.",
        retry: false,
      };
    default:
      return {
        level: "error",
        title: "The microphone could not be opened",
        text: "Check your microphone, then press Join call again.",
        retry: true,
      };
  }
}

export const CONNECTION_FAILED: Message = {
  level: "error",
  title: "The connection failed",
  text: "Your browser could not reach the bot. Check your network (a VPN or firewall may block calls), then press Join call again.",
  retry: true,
};

export const CONNECTION_LOST: Message = {
  level: "error",
  title: "The call was cut off",
  text: "The connection to the bot was lost and could not be restored. Press Join call to call again.",
  retry: true,
};

export const SERVER_UNREACHABLE: Message = {
  level: "error",
  title: "The bot cannot be reached",
  text: "Check your network connection, then try again.",
  retry: true,
};

export const MISSING_TOKEN: Message = {
  level: "error",
  title: "This link is incomplete",
  text: "The room link is missing its key. Open the full link you were given, or ask for a new one.",
  retry: false,
};

export function echoMessage(text: string): Message {
  return {
    level: "info",
    // The server's message usually names the mode itself.
    title: /^offline echo/i.test(text) ? "" : "Offline echo test:",
    text: text || "The bot is not connected to Gemini: it repeats what you say, so you can test your microphone and speakers.",
    retry: true,
  };
}
