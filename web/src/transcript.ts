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

  /** A user transcription (cumulative or in pieces); a final one closes the turn. */
  user(text: string, final: boolean, source: Source): void {
    if (!this.accept("user", source)) return;
    this.write("user", text, final, "merge");
  }

  /** Text the caller typed: its own turn, shown at once. */
  typed(text: string): void {
    this.closeOpen("user");
    const turn = this.add("user", text, true);
    turn.typed = true;
    this.onChange(turn, true);
  }

  /**
   * Bot output. Standard bot-output arrives a sentence at a time for one spoken
   * response (appended until the bot stops speaking; a repeated segment id updates
   * its sentence); the server's transcript messages are merged like the user's.
   */
  bot(text: string, final: boolean, source: Source, segment?: number): void {
    if (!this.accept("bot", source)) return;
    if (source === "rtvi") {
      const sameSegment = segment !== undefined && segment === this.lastSegment;
      this.lastSegment = segment ?? null;
      this.write("bot", text, false, sameSegment ? "replace-last" : "append");
    } else {
      this.write("bot", text, final, "merge");
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

  private pieces = new WeakMap<Turn, string[]>();

  private write(role: Role, text: string, final: boolean, mode: "merge" | "append" | "replace-last"): void {
    text = text.trim();
    if (!text && !final) return;
    // A new turn of one role closes the other's open turn.
    this.closeOpen(role === "user" ? "bot" : "user");
    let turn = this.open(role);
    const added = !turn;
    if (!turn) {
      if (!text) return;
      turn = this.add(role, "", false);
      this.pieces.set(turn, []);
    }
    const pieces = this.pieces.get(turn) ?? [];
    if (mode === "merge") {
      // Cumulative text replaces what came before; a new piece is added to it.
      const sofar = pieces.join(" ");
      if (!text || sofar.endsWith(text)) {
        // Nothing new (a repeat, or an empty final).
      } else if (!sofar || text.startsWith(sofar)) pieces.splice(0, pieces.length, text);
      else pieces.push(text);
    } else if (mode === "append") pieces.push(text);
    else pieces.splice(Math.max(0, pieces.length - 1), 1, text);
    this.pieces.set(turn, pieces);
    turn.text = pieces.filter(Boolean).join(" ");
    turn.final = final;
    this.onChange(turn, added);
  }

  private add(role: Role, text: string, final: boolean): Turn {
    const turn: Turn = { id: this.nextId++, role, text, final, typed: false };
    this.turns.push(turn);
    return turn;
  }
}
