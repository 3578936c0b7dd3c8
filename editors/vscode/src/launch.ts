// Finding the server executable. Pure apart from the injected `isFile`, so it is unit-tested.

import * as path from "node:path";
import type { LaunchSettings } from "./settings";

export interface Executable {
  command: string;
  args: string[];
}

/** The process environment (only PATH and, on Windows, PATHEXT are read). */
export type Env = Record<string, string | undefined>;

export const SERVER_NAME = "santa-lsp";

/** Candidate file names of `name` on this platform (`santa-lsp.exe` etc. on Windows). */
function names(name: string, platform: NodeJS.Platform, env: Env): string[] {
  if (platform !== "win32") return [name];
  const exts = (env.PATHEXT ?? ".EXE;.CMD;.BAT").split(";").filter(Boolean);
  return [name, ...exts.map((e) => name + e.toLowerCase())];
}

/** First `name` found on PATH, or undefined. */
export function which(
  name: string,
  env: Env,
  isFile: (p: string) => boolean,
  platform: NodeJS.Platform = process.platform,
): string | undefined {
  const sep = platform === "win32" ? ";" : ":";
  const p = platform === "win32" ? path.win32 : path.posix;
  for (const dir of (env.PATH ?? "").split(sep)) {
    if (!dir) continue;
    for (const n of names(name, platform, env)) {
      const candidate = p.join(dir, n);
      if (isFile(candidate)) return candidate;
    }
  }
  return undefined;
}

/**
 * The server command line (without the settings-derived flags):
 * 1. `santaLsp.server.command` as given;
 * 2. with `santaLsp.server.pythonPath`, the `santa-lsp` script of that environment (next to the
 *    interpreter), else `python -m santa_lsp`;
 * 3. `santa-lsp` on PATH.
 * Throws an Error whose message tells the user what to configure.
 */
export function resolveServer(
  launch: LaunchSettings,
  env: Env,
  isFile: (p: string) => boolean,
  platform: NodeJS.Platform = process.platform,
): Executable {
  if (launch.command) return { command: launch.command, args: [] };
  if (launch.pythonPath) {
    const p = platform === "win32" ? path.win32 : path.posix;
    const dir = p.dirname(launch.pythonPath);
    for (const n of names(SERVER_NAME, platform, env)) {
      const script = p.join(dir, n);
      if (isFile(script)) return { command: script, args: [] };
    }
    return { command: launch.pythonPath, args: ["-m", "santa_lsp"] };
  }
  const found = which(SERVER_NAME, env, isFile, platform);
  if (found) return { command: found, args: [] };
  throw new Error(
    "santa-lsp was not found on PATH. Install it (pip install santa-lsp) or set " +
      "santaLsp.server.command or santaLsp.server.pythonPath.",
  );
}
