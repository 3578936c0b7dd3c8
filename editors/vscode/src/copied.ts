// Tells the server what the user copied (`santa/copied`, docs/protocol.md), which it keeps beside
// the regions edited recently as context (setting `recentEdits`). VS Code has no copy event: the
// clipboard is read when the cursor comes to rest on another line (as santa/prefill goes out),
// and its text sent when it changed since the last read and an open document holds it (it was
// copied in the editor, or pasted into it). Text copied in another application, a password say,
// stays out.

export const COPIED = "santa/copied";

export class Clipboard {
  private last: string | undefined;

  constructor(
    private readonly read: () => Thenable<string>,
    private readonly held: (text: string) => boolean,
    private readonly send: (text: string) => Thenable<void>,
  ) {}

  /** Reads the clipboard; sends its text if it is new and an open document holds it. */
  async check(): Promise<void> {
    const text = await this.read();
    if (text === this.last) return;
    this.last = text;
    if (text.trim() !== "" && this.held(text)) await this.send(text);
  }
}
