// Tells the server where the user is about to type (`santa/prefill`, docs/protocol.md): when the
// cursor comes to rest on another line than the last one told, with no typing meanwhile, the
// server prepares the prompt there before the first keystroke. It does that only while idle.

export const PREFILL = "santa/prefill";
const REST_MS = 300;

/** A cursor: its document, line and UTF-16 column, and the document's version then. */
export interface Place {
  uri: string;
  line: number;
  character: number;
  version: number;
}

export class Prefiller {
  private last: { uri: string; line: number } | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly send: (place: Place) => void,
    private readonly current: () => Place | undefined,
    private readonly restMs = REST_MS,
  ) {}

  /** The cursor moved, or another editor became active, to `place`. */
  moved(place: Place): void {
    this.dispose();
    this.timer = setTimeout(() => this.rested(place), this.restMs);
  }

  private rested(place: Place): void {
    this.timer = undefined;
    const now = this.current();
    // Typing moves the cursor too: a document that changed meanwhile is being typed into.
    const still =
      now !== undefined &&
      now.uri === place.uri &&
      now.version === place.version &&
      now.line === place.line &&
      now.character === place.character;
    if (!still || (this.last?.uri === place.uri && this.last.line === place.line)) return;
    this.last = { uri: place.uri, line: place.line };
    this.send(place);
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
