import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Place, Prefiller } from "../src/prefill";

const REST_MS = 5;
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function harness() {
  const sent: Place[] = [];
  let now: Place | undefined;
  const prefiller = new Prefiller((place) => sent.push(place), () => now, REST_MS);
  const moveTo = (place: Place) => {
    now = place;
    prefiller.moved(place);
  };
  return { sent, prefiller, moveTo, setNow: (place: Place) => (now = place) };
}

const at = (line: number, character = 0, version = 1, uri = "file:///a.py"): Place => ({ uri, line, character, version });

describe("santa/prefill", () => {
  it("tells the server once the cursor rests on another line", async () => {
    const { sent, moveTo } = harness();
    moveTo(at(3, 4));
    await wait(REST_MS * 4);
    assert.deepEqual(sent, [at(3, 4)]);
    moveTo(at(3, 9)); // the same line again: its prompt is warm already
    await wait(REST_MS * 4);
    moveTo(at(10, 0, 1, "file:///b.py")); // another document
    await wait(REST_MS * 4);
    assert.deepEqual(sent, [at(3, 4), at(10, 0, 1, "file:///b.py")]);
  });

  it("waits for the cursor to rest: only the last of quick moves is told", async () => {
    const { sent, moveTo } = harness();
    moveTo(at(1));
    moveTo(at(2));
    moveTo(at(7));
    await wait(REST_MS * 4);
    assert.deepEqual(sent, [at(7)]);
  });

  it("says nothing while the user types (the document changed since the move)", async () => {
    const { sent, prefiller, setNow } = harness();
    setNow(at(5, 2, 1));
    prefiller.moved(at(5, 2, 1));
    setNow(at(5, 3, 2)); // a keystroke
    await wait(REST_MS * 4);
    assert.deepEqual(sent, []);
  });

  it("sends nothing after dispose", async () => {
    const { sent, prefiller, moveTo } = harness();
    moveTo(at(4));
    prefiller.dispose();
    await wait(REST_MS * 4);
    assert.deepEqual(sent, []);
  });
});
