// The call's notices ("Reconnecting to Gemini…", "Gemini is slow to answer…"): small
// lines under the header, one per matter.
//
// Why keyed: the bot tells the page about a matter (its `key`: "session", "stall",
// "restart", "cap") more than once - a drop, then its recovery - and a page that only
// appended kept "reconnecting" on screen after the bot was talking again. Here a later
// notice of a key replaces the earlier one, `{"key": …, "clear": true}` takes it away,
// an info fades by itself, warnings stay until cleared or replaced, and errors stay
// until the caller dismisses them (a clear does not remove an error). At most
// `MAX_VISIBLE` show; the oldest, least serious one goes first. Errors are announced
// at once (each is a role=alert, announced as it is inserted), the others politely (in
// one role=status region that is always there, so additions to it are read).

import type { Level } from "./messages";

export const FADE_MS = 5000; // an info notice stays this long
export const FADE_OUT_MS = 400; // then fades out (the CSS transition)
export const MAX_VISIBLE = 3;
const LEVELS: readonly Level[] = ["info", "warning", "error"];

export interface Notice {
  key: string;
  level: Level;
  text: string;
}

export type NoticeUpdate = Notice | { key: string; clear: true };

let unkeyed = 0;

/** A `notice` server message as the page uses it; null for one it cannot show. A notice
 * without a key (a bot from before keys) stands alone: nothing replaces or clears it. */
export function parseNotice(m: Record<string, unknown>): NoticeUpdate | null {
  const key = typeof m.key === "string" && m.key ? m.key : null;
  if (m.clear === true) return key ? { key, clear: true } : null;
  const text = typeof m.text === "string" ? m.text.trim() : "";
  if (!text) return null;
  const level = LEVELS.includes(m.level as Level) ? (m.level as Level) : "info";
  return { key: key ?? `unkeyed-${++unkeyed}`, level, text };
}

interface Shown {
  notice: Notice;
  el: HTMLElement;
  timers: ReturnType<typeof setTimeout>[];
}

export class Notices {
  private readonly shown = new Map<string, Shown>(); // in the order they were shown
  private readonly urgent: HTMLElement;
  private readonly polite: HTMLElement;

  constructor(root: HTMLElement) {
    this.urgent = document.createElement("div");
    this.urgent.className = "notices-urgent";
    this.polite = document.createElement("div");
    this.polite.className = "notices-polite";
    this.polite.setAttribute("role", "status");
    this.polite.setAttribute("aria-live", "polite");
    this.polite.setAttribute("aria-relevant", "additions text");
    root.replaceChildren(this.urgent, this.polite);
  }

  update(update: NoticeUpdate): void {
    if ("clear" in update) this.clear(update.key);
    else this.show(update);
  }

  /** Show `notice`, in place of any earlier one with its key. */
  show(notice: Notice): void {
    this.remove(notice.key);
    const el = document.createElement("div");
    el.className = "notice";
    el.dataset.key = notice.key;
    el.dataset.level = notice.level;
    if (notice.level === "error") el.setAttribute("role", "alert");
    const text = document.createElement("span");
    text.className = "notice-text";
    text.textContent = notice.text;
    el.append(text);
    const shown: Shown = { notice, el, timers: [] };
    if (notice.level === "info") {
      shown.timers.push(setTimeout(() => this.fade(shown), FADE_MS));
    } else {
      const close = document.createElement("button");
      close.type = "button";
      close.className = "ghost small notice-close";
      close.setAttribute("aria-label", `Dismiss: ${notice.text}`);
      close.textContent = "✕";
      close.addEventListener("click", () => this.remove(notice.key));
      el.append(close);
    }
    (notice.level === "error" ? this.urgent : this.polite).append(el);
    this.shown.set(notice.key, shown);
    this.trim();
  }

  /** The matter `key` is over: its notice goes (an error stays for the caller to read). */
  clear(key: string): void {
    if (this.shown.get(key)?.notice.level !== "error") this.remove(key);
  }

  /** A call ended: what was about it goes; errors stay (they say why it ended). */
  callEnded(): void {
    for (const [key, shown] of [...this.shown]) if (shown.notice.level !== "error") this.remove(key);
  }

  /** A new call: nothing of the last one is shown. */
  reset(): void {
    for (const key of [...this.shown.keys()]) this.remove(key);
  }

  private fade(shown: Shown): void {
    shown.el.classList.add("fading");
    shown.timers.push(setTimeout(() => this.shown.get(shown.notice.key) === shown && this.remove(shown.notice.key), FADE_OUT_MS));
  }

  private remove(key: string): void {
    const shown = this.shown.get(key);
    if (!shown) return;
    shown.timers.forEach(clearTimeout);
    shown.el.remove();
    this.shown.delete(key);
  }

  /** At most MAX_VISIBLE: the oldest info goes first, then the oldest warning, then errors. */
  private trim(): void {
    for (const level of LEVELS) {
      for (const [key, shown] of [...this.shown]) {
        if (this.shown.size <= MAX_VISIBLE) return;
        if (shown.notice.level === level) this.remove(key);
      }
    }
  }
}
