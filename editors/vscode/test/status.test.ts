import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatStats, parseStatus, statusView } from "../src/status";

describe("santa/status", () => {
  it("accepts the three protocol states and rejects anything else", () => {
    assert.deepEqual(parseStatus({ state: "ready", message: "m" }), { state: "ready", message: "m" });
    assert.deepEqual(parseStatus({ state: "loading" }), { state: "loading", message: "" });
    assert.equal(parseStatus({ state: "busy" }), undefined);
    assert.equal(parseStatus(null), undefined);
    assert.equal(parseStatus("ready"), undefined);
  });

  it("shows the server's reason for an error", () => {
    const view = statusView("error", "CUDA out of memory");
    assert.equal(view.error, true);
    assert.match(view.tooltip, /CUDA out of memory/);
    assert.match(view.text, /\$\(error\)/);
  });

  it("spins while loading and checks when ready", () => {
    assert.match(statusView("loading", "").text, /loading~spin/);
    assert.match(statusView("starting", "").text, /loading~spin/);
    assert.match(statusView("ready", "model x").text, /\$\(check\)/);
    assert.match(statusView("ready", "", true).tooltip, /off for this language/);
    assert.equal(statusView("disabled", "").error, false);
    assert.equal(statusView("stopped", "").error, true);
  });
});

describe("santa/stats", () => {
  it("summarises counts, rate and latency", () => {
    const text = formatStats({ shown: 8, accepted: 2, latencyMs: { p50: 120.4, p95: 480.6 } }, true);
    assert.equal(text, "Santa LSP: 8 shown, 2 accepted (25.0%); latency p50 120 ms, p95 481 ms.");
  });

  it("hints at the opt-in setting when nothing was recorded", () => {
    assert.match(formatStats({ shown: 0, accepted: 0, latencyMs: { p50: 0, p95: 0 } }, false), /santaLsp\.stats/);
    assert.doesNotMatch(formatStats({ shown: 0, accepted: 0 }, true), /santaLsp\.stats/);
  });

  it("copes with a malformed answer", () => {
    assert.match(formatStats(null, true), /no statistics/);
  });
});
