// Pure mapping from the extension's VS Code settings to the server's options
// (docs/protocol.md, "Settings"). No `vscode` import here, so it is unit-tested under plain node.

/** The server's settings object, as sent in initializationOptions and didChangeConfiguration. */
export interface ServerSettings {
  model?: string;
  backend: string;
  backendUrl: string;
  backendModel: string;
  backendApiKeyEnv: string;
  backendTimeoutMs: number;
  device: string;
  dtype: string;
  maxNewTokens: number;
  timeBudgetMs: number;
  fimMode: string;
  temperature: number;
  stop: string[];
  enabled: boolean;
  disabledLanguages: string[];
  crossFile: boolean;
  crossFileTokens: number;
  recentEdits: boolean;
  recentEditsTokens: number;
  stats: boolean;
  minTokenProb: number;
  stopRepetition: boolean;
  syntaxCheck: boolean;
  tokenHealing: boolean;
  candidates: number;
  cache: boolean;
  warmUp: boolean;
  keepAgreeing: boolean;
  prefetchNext: boolean;
  prefixCacheMb: number;
}

/** How to start the server process. */
export interface LaunchSettings {
  command: string;
  pythonPath: string;
  args: string[];
}

/** Reads one key of the `santaLsp` section; `undefined` when unset or unknown. */
export type Getter = (key: string) => unknown;

export const DEFAULTS: Readonly<Omit<ServerSettings, "model">> = Object.freeze({
  backend: "local",
  backendUrl: "http://127.0.0.1:8080",
  backendModel: "",
  backendApiKeyEnv: "",
  backendTimeoutMs: 10000,
  device: "auto",
  dtype: "auto",
  maxNewTokens: 64,
  timeBudgetMs: 1500,
  fimMode: "spm",
  temperature: 0,
  stop: [],
  enabled: true,
  disabledLanguages: [],
  crossFile: true,
  crossFileTokens: 256,
  recentEdits: false,
  recentEditsTokens: 128,
  stats: false,
  minTokenProb: 0.2,
  stopRepetition: true,
  syntaxCheck: true,
  tokenHealing: true,
  candidates: 1,
  cache: true,
  warmUp: true,
  keepAgreeing: true,
  prefetchNext: false,
  prefixCacheMb: 1024,
});

/** The most candidates the server makes for one request (santa_lsp/settings.py). */
export const MAX_CANDIDATES = 8;
export const DEVICE_RE = /^(auto|cpu|cuda|cuda:\d+)$/;
export const DTYPES = ["auto", "fp32", "bf16", "fp16", "int8"] as const;
export const FIM_MODES = ["spm", "psm"] as const;
export const BACKENDS = ["local", "llama.cpp", "openai"] as const;

function str(value: unknown, fallback: string, allowed?: (v: string) => boolean): string {
  if (typeof value !== "string") return fallback;
  const v = value.trim();
  if (v === "" || (allowed && !allowed(v))) return fallback;
  return v;
}

function int(value: unknown, fallback: number, min: number, max = Infinity): number {
  if (typeof value !== "number" || !Number.isFinite(value)) return fallback;
  return Math.min(max, Math.max(min, Math.round(value)));
}

/** A probability: a finite number in 0..1, else the fallback. */
function prob(value: unknown, fallback: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1) return fallback;
  return value;
}

function bool(value: unknown, fallback: boolean): boolean {
  return typeof value === "boolean" ? value : fallback;
}

function strings(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is string => typeof v === "string" && v !== "");
}

/** Expands a leading `~/` (settings are often written with one). */
export function expandHome(path: string, home: string | undefined): string {
  if (home && (path === "~" || path.startsWith("~/"))) return home + path.slice(1);
  return path;
}

/**
 * The per-language map `santaLsp.enable` ({"*": bool, languageId: bool}) as the server's
 * `disabledLanguages`: every language explicitly set to false. A `"*": false` default cannot be
 * said to the server; the client enforces it (see `languageEnabled`).
 */
export function disabledLanguages(enable: unknown): string[] {
  if (enable === null || typeof enable !== "object" || Array.isArray(enable)) return [];
  return Object.entries(enable as Record<string, unknown>)
    .filter(([lang, on]) => lang !== "*" && on === false)
    .map(([lang]) => lang)
    .sort();
}

/** Whether completions are wanted for `languageId` according to `santaLsp.enable`. */
export function languageEnabled(enable: unknown, languageId: string): boolean {
  if (enable === null || typeof enable !== "object" || Array.isArray(enable)) return true;
  const map = enable as Record<string, unknown>;
  if (typeof map[languageId] === "boolean") return map[languageId] as boolean;
  if (typeof map["*"] === "boolean") return map["*"] as boolean;
  return true;
}

/** The server's options from the extension's settings; invalid values fall back to defaults. */
export function toServerSettings(get: Getter, home?: string): ServerSettings {
  const out: ServerSettings = {
    backend: str(get("backend"), DEFAULTS.backend, (v) => (BACKENDS as readonly string[]).includes(v)),
    backendUrl: str(get("backendUrl"), DEFAULTS.backendUrl),
    backendModel: str(get("backendModel"), DEFAULTS.backendModel),
    backendApiKeyEnv: str(get("backendApiKeyEnv"), DEFAULTS.backendApiKeyEnv),
    backendTimeoutMs: int(get("backendTimeoutMs"), DEFAULTS.backendTimeoutMs, 0),
    device: str(get("device"), DEFAULTS.device, (v) => DEVICE_RE.test(v)),
    dtype: str(get("dtype"), DEFAULTS.dtype, (v) => (DTYPES as readonly string[]).includes(v)),
    maxNewTokens: int(get("maxNewTokens"), DEFAULTS.maxNewTokens, 1),
    timeBudgetMs: int(get("timeBudgetMs"), DEFAULTS.timeBudgetMs, 1),
    fimMode: str(get("fimMode"), DEFAULTS.fimMode, (v) => (FIM_MODES as readonly string[]).includes(v)),
    temperature:
      typeof get("temperature") === "number" && (get("temperature") as number) >= 0
        ? (get("temperature") as number)
        : DEFAULTS.temperature,
    stop: strings(get("stop")),
    enabled: bool(get("enabled"), DEFAULTS.enabled),
    disabledLanguages: disabledLanguages(get("enable")),
    crossFile: bool(get("crossFile"), DEFAULTS.crossFile),
    crossFileTokens: int(get("crossFileTokens"), DEFAULTS.crossFileTokens, 0),
    recentEdits: bool(get("recentEdits"), DEFAULTS.recentEdits),
    recentEditsTokens: int(get("recentEditsTokens"), DEFAULTS.recentEditsTokens, 0),
    stats: bool(get("stats"), DEFAULTS.stats),
    minTokenProb: prob(get("minTokenProb"), DEFAULTS.minTokenProb),
    stopRepetition: bool(get("stopRepetition"), DEFAULTS.stopRepetition),
    syntaxCheck: bool(get("syntaxCheck"), DEFAULTS.syntaxCheck),
    tokenHealing: bool(get("tokenHealing"), DEFAULTS.tokenHealing),
    candidates: int(get("candidates"), DEFAULTS.candidates, 1, MAX_CANDIDATES),
    cache: bool(get("cache"), DEFAULTS.cache),
    warmUp: bool(get("warmUp"), DEFAULTS.warmUp),
    keepAgreeing: bool(get("keepAgreeing"), DEFAULTS.keepAgreeing),
    prefetchNext: bool(get("prefetchNext"), DEFAULTS.prefetchNext),
    prefixCacheMb: int(get("prefixCacheMb"), DEFAULTS.prefixCacheMb, 0),
  };
  // An empty model means "the server's packaged model": leave the key out so the server keeps it.
  const model = str(get("model"), "");
  if (model !== "") out.model = expandHome(model, home);
  return out;
}

export function toLaunchSettings(get: Getter, home?: string): LaunchSettings {
  return {
    command: expandHome(str(get("server.command"), ""), home),
    pythonPath: expandHome(str(get("server.pythonPath"), ""), home),
    args: strings(get("server.args")),
  };
}

/**
 * Keys whose change needs a new server process. The protocol promises a background reload only
 * for `model`; device and dtype are given on the command line as well, so a change restarts.
 */
export const RESTART_KEYS = ["device", "dtype"] as const;

export function needsRestart(
  before: { server: ServerSettings; launch: LaunchSettings },
  after: { server: ServerSettings; launch: LaunchSettings },
): boolean {
  if (JSON.stringify(before.launch) !== JSON.stringify(after.launch)) return true;
  // Without a model the server uses its packaged one; only a fresh start gets back to it.
  if (before.server.model !== undefined && after.server.model === undefined) return true;
  return RESTART_KEYS.some((k) => before.server[k] !== after.server[k]);
}

/**
 * The arguments after the executable: `santaLsp.server.args` first (so that a wrapper command can
 * take its own), then the flags that repeat the load-time settings (docs/protocol.md, "Starting").
 */
export function serverArgs(server: ServerSettings, launch: LaunchSettings): string[] {
  const args = [...launch.args];
  if (server.model) args.push("--model", server.model);
  if (server.device !== DEFAULTS.device) args.push("--device", server.device);
  if (server.dtype !== DEFAULTS.dtype) args.push("--dtype", server.dtype);
  return args;
}
