import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import {
  DEFAULTS,
  disabledLanguages,
  expandHome,
  languageEnabled,
  needsRestart,
  serverArgs,
  toLaunchSettings,
  toServerSettings,
} from "../src/settings";

const getter = (values: Record<string, unknown>) => (key: string) => values[key];

// package.json sits two levels above out/test/ once compiled, one above test/ in the sources.
function manifest(): { contributes: { configuration: { properties: Record<string, { default?: unknown }> } } } {
  for (const dir of [path.join(__dirname, ".."), path.join(__dirname, "..", "..")]) {
    const p = path.join(dir, "package.json");
    if (fs.existsSync(p)) return JSON.parse(fs.readFileSync(p, "utf8"));
  }
  throw new Error("package.json not found");
}

describe("toServerSettings", () => {
  it("gives the protocol defaults when nothing is set, and leaves model out", () => {
    const s = toServerSettings(getter({}));
    assert.deepEqual(s, { ...DEFAULTS, stop: [], disabledLanguages: [] });
    assert.equal("model" in s, false);
  });

  it("maps every setting to the server key of docs/protocol.md", () => {
    const s = toServerSettings(
      getter({
        model: "  bigcode/gpt_bigcode-santacoder ",
        backend: "openai",
        backendUrl: "http://gpu-box:8000",
        backendModel: "bigcode/santacoder",
        backendApiKeyEnv: "SANTA_API_KEY",
        backendTimeoutMs: 3000,
        device: "cuda:1",
        dtype: "int8",
        maxNewTokens: 32,
        timeBudgetMs: 800,
        fimMode: "psm",
        temperature: 0.2,
        stop: ["\n\n", 7, ""],
        enabled: false,
        enable: { "*": true, markdown: false, python: true, plaintext: false },
        crossFile: false,
        crossFileTokens: 128,
        recentEdits: true,
        recentEditsTokens: 64,
        stats: true,
        minTokenProb: 0.05,
        stopRepetition: false,
        syntaxCheck: false,
        tokenHealing: false,
        candidates: 3,
        cache: false,
        warmUp: false,
        keepAgreeing: false,
        prefetchNext: true,
        prefixCacheMb: 256,
      }),
    );
    assert.deepEqual(s, {
      model: "bigcode/gpt_bigcode-santacoder",
      backend: "openai",
      backendUrl: "http://gpu-box:8000",
      backendModel: "bigcode/santacoder",
      backendApiKeyEnv: "SANTA_API_KEY",
      backendTimeoutMs: 3000,
      device: "cuda:1",
      dtype: "int8",
      maxNewTokens: 32,
      timeBudgetMs: 800,
      fimMode: "psm",
      temperature: 0.2,
      stop: ["\n\n"],
      enabled: false,
      disabledLanguages: ["markdown", "plaintext"],
      crossFile: false,
      crossFileTokens: 128,
      recentEdits: true,
      recentEditsTokens: 64,
      stats: true,
      minTokenProb: 0.05,
      stopRepetition: false,
      syntaxCheck: false,
      tokenHealing: false,
      candidates: 3,
      cache: false,
      warmUp: false,
      keepAgreeing: false,
      prefetchNext: true,
      prefixCacheMb: 256,
    });
  });

  it("replaces invalid values by defaults instead of sending them", () => {
    const s = toServerSettings(
      getter({
        device: "tpu",
        backend: "grpc",
        backendTimeoutMs: -5,
        dtype: "fp8",
        maxNewTokens: -3,
        timeBudgetMs: "fast",
        fimMode: "xyz",
        temperature: -1,
        enabled: "yes",
        crossFileTokens: 12.6,
        recentEdits: "on",
        recentEditsTokens: -4,
        stats: "on",
        minTokenProb: 1.5,
        stopRepetition: "no",
        syntaxCheck: 0,
        tokenHealing: "yes",
        candidates: 0,
        cache: "off",
        prefixCacheMb: "1G",
        model: "",
      }),
    );
    assert.equal(s.device, "auto");
    assert.equal(s.backend, "local");
    assert.equal(s.backendTimeoutMs, 0);
    assert.equal(s.dtype, "auto");
    assert.equal(s.maxNewTokens, 1);
    assert.equal(s.timeBudgetMs, 1500);
    assert.equal(s.fimMode, "spm");
    assert.equal(s.temperature, 0);
    assert.equal(s.enabled, true);
    assert.equal(s.crossFileTokens, 13);
    assert.equal(s.recentEdits, false);
    assert.equal(s.recentEditsTokens, 0);
    assert.equal(s.stats, false);
    assert.equal(s.minTokenProb, 0.2);
    assert.equal(s.stopRepetition, true);
    assert.equal(s.syntaxCheck, true);
    assert.equal(s.tokenHealing, true);
    assert.equal(s.candidates, 1);
    assert.equal(toServerSettings(getter({ candidates: 20 })).candidates, 8); // the server's bound
    assert.equal(s.cache, true);
    assert.equal(s.prefixCacheMb, 1024);
    assert.equal(s.model, undefined);
    for (const bad of [-0.1, 1.01, Number.NaN, "0.5", null]) {
      assert.equal(toServerSettings(getter({ minTokenProb: bad })).minTokenProb, DEFAULTS.minTokenProb, String(bad));
    }
    assert.equal(toServerSettings(getter({ minTokenProb: 1 })).minTokenProb, 1);
  });

  it("expands ~ in a model directory", () => {
    assert.equal(toServerSettings(getter({ model: "~/models/santa" }), "/home/u").model, "/home/u/models/santa");
    assert.equal(expandHome("~", "/h"), "/h");
    assert.equal(expandHome("a/~/b", "/h"), "a/~/b");
    assert.equal(expandHome("~/x", undefined), "~/x");
  });

  it("has the same defaults as the settings contributed in package.json", () => {
    const props = manifest().contributes.configuration.properties;
    for (const [key, value] of Object.entries(DEFAULTS)) {
      if (key === "disabledLanguages") continue; // contributed as santaLsp.enable
      assert.ok(`santaLsp.${key}` in props, `santaLsp.${key} is not contributed`);
      assert.deepEqual(props[`santaLsp.${key}`].default, value, `default of santaLsp.${key}`);
    }
    // The contributed defaults map to the server defaults, apart from the languages turned off.
    const defaults = (key: string) => props[`santaLsp.${key}`]?.default;
    const s = toServerSettings(defaults);
    assert.deepEqual({ ...s, disabledLanguages: [] }, { ...DEFAULTS, stop: [], disabledLanguages: [] });
    assert.deepEqual(s.disabledLanguages, ["markdown", "plaintext", "scminput"]);
  });
});

describe("per-language switch", () => {
  it("lists the languages set to false", () => {
    assert.deepEqual(disabledLanguages({ "*": false, python: true, go: false }), ["go"]);
    assert.deepEqual(disabledLanguages(undefined), []);
    assert.deepEqual(disabledLanguages(["python"]), []);
  });

  it("uses the language entry, then '*', then true", () => {
    const map = { "*": false, python: true };
    assert.equal(languageEnabled(map, "python"), true);
    assert.equal(languageEnabled(map, "rust"), false);
    assert.equal(languageEnabled({ go: false }, "rust"), true);
    assert.equal(languageEnabled(null, "rust"), true);
  });
});

describe("launch settings and restarts", () => {
  const launch = toLaunchSettings(getter({ "server.command": "", "server.args": ["--log", 3] }));
  const base = { server: toServerSettings(getter({})), launch };

  it("reads the launch settings", () => {
    assert.deepEqual(launch, { command: "", pythonPath: "", args: ["--log"] });
    const home = toLaunchSettings(getter({ "server.pythonPath": "~/.venv/bin/python" }), "/home/u");
    assert.equal(home.pythonPath, "/home/u/.venv/bin/python");
  });

  it("restarts for device, dtype and launch changes only", () => {
    const withServer = (v: Record<string, unknown>) => ({ server: toServerSettings(getter(v)), launch });
    assert.equal(needsRestart(base, withServer({ device: "cpu" })), true);
    assert.equal(needsRestart(base, withServer({ dtype: "bf16" })), true);
    assert.equal(needsRestart(base, withServer({ model: "/m" })), false, "the server reloads the model itself");
    assert.equal(needsRestart(base, withServer({ maxNewTokens: 9, enabled: false, stats: true })), false);
    assert.equal(needsRestart(base, { ...base, launch: { ...launch, command: "/bin/santa-lsp" } }), true);
    assert.equal(needsRestart(base, { ...base, launch: { ...launch, args: [] } }), true);
  });

  it("restarts when the model is cleared, to get the packaged model back", () => {
    const withModel = { server: toServerSettings(getter({ model: "/m" })), launch };
    assert.equal(needsRestart(withModel, base), true);
  });

  it("repeats model, device and dtype on the command line", () => {
    assert.deepEqual(serverArgs(base.server, launch), ["--log"]);
    const s = toServerSettings(getter({ model: "/m", device: "cpu", dtype: "fp32" }));
    assert.deepEqual(serverArgs(s, { ...launch, args: [] }), ["--model", "/m", "--device", "cpu", "--dtype", "fp32"]);
    assert.deepEqual(serverArgs(s, { ...launch, args: ["tap.py", "--"] }), [
      "tap.py",
      "--",
      "--model",
      "/m",
      "--device",
      "cpu",
      "--dtype",
      "fp32",
    ]);
  });
});
