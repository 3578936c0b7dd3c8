import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveServer, which } from "../src/launch";

const files = (...paths: string[]) => (p: string) => paths.includes(p);
const none = { command: "", pythonPath: "", args: [] };

describe("resolveServer", () => {
  it("uses the configured command as is", () => {
    const exe = resolveServer({ ...none, command: "/opt/santa/bin/santa-lsp" }, {}, files(), "linux");
    assert.deepEqual(exe, { command: "/opt/santa/bin/santa-lsp", args: [] });
  });

  it("prefers the santa-lsp script next to a configured interpreter", () => {
    const exe = resolveServer(
      { ...none, pythonPath: "/p/.venv/bin/python" },
      { PATH: "/usr/bin" },
      files("/p/.venv/bin/santa-lsp", "/usr/bin/santa-lsp"),
      "linux",
    );
    assert.deepEqual(exe, { command: "/p/.venv/bin/santa-lsp", args: [] });
  });

  it("falls back to python -m santa_lsp", () => {
    const exe = resolveServer({ ...none, pythonPath: "/p/python3" }, {}, files(), "linux");
    assert.deepEqual(exe, { command: "/p/python3", args: ["-m", "santa_lsp"] });
  });

  it("finds santa-lsp on PATH, in PATH order", () => {
    const env = { PATH: "/a::/b:/c" };
    const exe = resolveServer(none, env, files("/c/santa-lsp", "/b/santa-lsp"), "linux");
    assert.deepEqual(exe, { command: "/b/santa-lsp", args: [] });
  });

  it("knows Windows script names", () => {
    const env = { PATH: "C:\\py\\Scripts;C:\\bin", PATHEXT: ".COM;.EXE" };
    assert.equal(which("santa-lsp", env, files("C:\\bin\\santa-lsp.exe"), "win32"), "C:\\bin\\santa-lsp.exe");
    const exe = resolveServer(
      { ...none, pythonPath: "C:\\venv\\Scripts\\python.exe" },
      env,
      files("C:\\venv\\Scripts\\santa-lsp.exe"),
      "win32",
    );
    assert.equal(exe.command, "C:\\venv\\Scripts\\santa-lsp.exe");
  });

  it("says what to configure when nothing is found", () => {
    assert.throws(() => resolveServer(none, { PATH: "/x" }, files(), "linux"), /santaLsp\.server\.command/);
  });
});
