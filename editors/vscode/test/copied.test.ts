import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Clipboard } from "../src/copied";

function harness(documents: string[]) {
  const sent: string[] = [];
  let clipboard = "";
  const watcher = new Clipboard(
    async () => clipboard,
    (text) => documents.some((document) => document.includes(text)),
    async (text) => {
      sent.push(text);
    },
  );
  const copy = async (text: string) => {
    clipboard = text;
    await watcher.check();
  };
  return { sent, copy, watcher };
}

const DOCUMENT = "def add(a, b):\n    return a + b\n\n\ndef fib(n):\n    pass\n";

describe("santa/copied", () => {
  it("sends the clipboard's text once, and again only after it changed", async () => {
    const { sent, copy, watcher } = harness([DOCUMENT]);
    await copy("def add(a, b):\n    return a + b");
    await watcher.check(); // the cursor rests elsewhere: the clipboard is the same
    await copy("def fib(n):");
    await copy("def add(a, b):\n    return a + b"); // copied again after something else
    assert.deepEqual(sent, ["def add(a, b):\n    return a + b", "def fib(n):", "def add(a, b):\n    return a + b"]);
  });

  it("sends only text an open document holds, and no blank text", async () => {
    const { sent, copy } = harness([DOCUMENT]);
    await copy("hunter2-copied-from-a-password-manager");
    await copy("\n\n");
    await copy("    pass\n");
    assert.deepEqual(sent, ["    pass\n"]);
  });
});
