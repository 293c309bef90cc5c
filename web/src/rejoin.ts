// Coming back to a call: the bot's rejoin secret for this call, kept in this tab's
// sessionStorage. A reload of the tab (or a Join after the network was gone) sends it
// with the join, and the bot resumes the same conversation (bot/rejoin.py). Not
// localStorage: another tab, or a visit tomorrow, is another call.

const KEY = "livebot.rejoin";
const MARGIN_MS = 5_000; // the bot's window runs from when it noticed; ours from when we left

interface Kept {
  token: string; // the room link it belongs to
  secret: string;
  seconds: number;
  leftAt: number | null; // when this page left the call (null: still in it, or it crashed)
  keptAt: number;
}

function read(): Kept | null {
  try {
    const kept = JSON.parse(sessionStorage.getItem(KEY) ?? "null") as Kept | null;
    return kept && typeof kept.secret === "string" && typeof kept.token === "string" ? kept : null;
  } catch {
    return null;
  }
}

function write(kept: Kept | null): void {
  try {
    if (kept) sessionStorage.setItem(KEY, JSON.stringify(kept));
    else sessionStorage.removeItem(KEY);
  } catch {
    // Storage off (a private window's policy): no rejoin, the call itself is unaffected.
  }
}

/** The bot's session message said how this call can be come back to. */
export function remember(token: string, secret: string, seconds: number): void {
  write({ token, secret, seconds, leftAt: null, keptAt: Date.now() });
}

/** This page is leaving the call without hanging up (a reload, a lost connection). */
export function left(): void {
  const kept = read();
  if (kept && kept.leftAt === null) write({ ...kept, leftAt: Date.now() });
}

/** The secret to rejoin with, for this room link, while the bot still keeps the call. */
export function pending(token: string): string | null {
  const kept = read();
  if (!kept || kept.token !== token) return null;
  const since = kept.leftAt ?? Date.now();
  if (Date.now() - since > kept.seconds * 1000 - MARGIN_MS) {
    write(null);
    return null;
  }
  return kept.secret;
}

/** Hung up, or the secret was spent: nothing to come back to. */
export function forget(): void {
  write(null);
}
