// The live transcript's model: turns of "user" and "bot" text.
//
// Two sources say the same thing: Pipecat's standard RTVI events (user-transcription,
// bot-output) and the server's own `transcript` server-messages (from the Live API's
// transcriptions). For each role the first source heard in a call is used for the
// rest of it, so nothing shows twice.

export type Role = "user" | "bot";
export type Source = "rtvi" | "server" | "typed";

export interface Turn {
  id: number;
  role: Role;
  text: string;
  /** False while the words are still coming (partial transcription, bot still speaking). */
  final: boolean;
  typed: boolean;
}

export class Transcript {
  turns: Turn[] = [];
  private nextId = 1;
  private sourceFor: Partial<Record<Role, Source>> = {};
  private lastSegment: number | null = null;

  constructor(private readonly onChange: (turn: Turn, added: boolean) => void = () => {}) {}

  /**
   * A user transcription. Pipecat's user-transcription sends interim text (replaced
   * by the next) and final segments (kept, joined by spaces); the server's transcript
   * messages are the Live API's pieces, joined as they come.
   */
  user(text: string, final: boolean, source: Source): void {
    if (!this.accept("user", source)) return;
    if (source === "rtvi") this.write("user", text, final ? "segment" : "interim", false);
    else this.write("user", text, "piece", final);
  }

  /** Text the caller typed: its own turn, shown at once. */
  typed(text: string): void {
    this.closeOpen("user");
    const turn = this.add("user", text, true);
    turn.typed = true;
    this.onChange(turn, true);
  }

  /**
   * Bot output. Pipecat's bot-output comes a sentence at a time (a repeated segment
   * id updates its sentence); the server's transcript messages are pieces. The turn
   * ends when the bot stops speaking (or a final piece says so).
   */
  bot(text: string, final: boolean, source: Source, segment?: number): void {
    if (!this.accept("bot", source)) return;
    if (source === "rtvi") {
      const same = segment !== undefined && segment === this.lastSegment;
      this.lastSegment = segment ?? null;
      this.write("bot", text, same ? "interim" : "next", false);
    } else {
      this.write("bot", text, "piece", final);
    }
  }

  /** The bot stopped speaking (or the caller started): its open turn is complete. */
  endTurn(role: Role): void {
    this.closeOpen(role);
    if (role === "bot") this.lastSegment = null;
  }

  reset(): void {
    this.turns = [];
    this.sourceFor = {};
    this.lastSegment = null;
  }

  private accept(role: Role, source: Source): boolean {
    this.sourceFor[role] ??= source;
    return this.sourceFor[role] === source;
  }

  private open(role: Role): Turn | undefined {
    for (let i = this.turns.length - 1; i >= 0; i--) {
      const turn = this.turns[i];
      if (!turn.final && turn.role === role) return turn;
    }
    return undefined;
  }

  private closeOpen(role: Role): void {
    const turn = this.open(role);
    if (turn) {
      turn.final = true;
      this.onChange(turn, false);
    }
  }

  private parts = new WeakMap<Turn, { committed: string; interim: string }>();

  private write(role: Role, text: string, kind: "segment" | "next" | "interim" | "piece", final: boolean): void {
    // A new turn of one role closes the other's open turn.
    if (text.trim()) this.closeOpen(role === "user" ? "bot" : "user");
    let turn = this.open(role);
    const added = !turn;
    if (!turn) {
      if (!text.trim()) return;
      turn = this.add(role, "", false);
    }
    const parts = this.parts.get(turn) ?? { committed: "", interim: "" };
    this.parts.set(turn, parts);
    if (kind === "segment") {
      parts.committed = joinWords(parts.committed, text);
      parts.interim = "";
    } else if (kind === "next") {
      parts.committed = joinWords(parts.committed, parts.interim);
      parts.interim = text;
    } else if (kind === "interim") {
      parts.interim = text;
    } else if (text.startsWith(parts.committed) && parts.committed) {
      parts.committed = text; // the whole text so far
    } else if (!(final && text.trim() === parts.committed.trim())) {
      parts.committed += text;
    }
    turn.text = joinWords(parts.committed, parts.interim).trim();
    turn.final = final;
    this.onChange(turn, added);
  }

  private add(role: Role, text: string, final: boolean): Turn {
    const turn: Turn = { id: this.nextId++, role, text, final, typed: false };
    this.turns.push(turn);
    return turn;
  }
}

function joinWords(a: string, b: string): string {
  a = a.trim();
  b = b.trim();
  return a && b ? `${a} ${b}` : a || b;
}
