// What the status bar item and the statistics message say. Pure, so it is unit-tested.

/** `santa/status` notification params (docs/protocol.md). */
export interface ServerStatus {
  state: "loading" | "ready" | "error";
  message: string;
}

/** `santa/stats` response (docs/protocol.md). */
export interface ServerStats {
  shown: number;
  accepted: number;
  latencyMs: { p50: number; p95: number };
}

export type ViewState = ServerStatus["state"] | "starting" | "stopped" | "disabled";

export interface StatusView {
  text: string;
  tooltip: string;
  /** true: draw the item with the error background colour. */
  error: boolean;
}

/** Accepts anything and returns a valid ServerStatus, or undefined for a malformed notification. */
export function parseStatus(params: unknown): ServerStatus | undefined {
  if (params === null || typeof params !== "object") return undefined;
  const p = params as Record<string, unknown>;
  if (p.state !== "loading" && p.state !== "ready" && p.state !== "error") return undefined;
  return { state: p.state, message: typeof p.message === "string" ? p.message : "" };
}

export function statusView(state: ViewState, message: string, languageOff = false): StatusView {
  const detail = message ? `: ${message}` : "";
  switch (state) {
    case "starting":
      return { text: "$(loading~spin) Santa", tooltip: `Santa LSP: starting the server${detail}`, error: false };
    case "loading":
      return { text: "$(loading~spin) Santa", tooltip: `Santa LSP: loading the model${detail}`, error: false };
    case "ready":
      if (languageOff) {
        return { text: "$(circle-slash) Santa", tooltip: "Santa LSP: ready; off for this language", error: false };
      }
      return { text: "$(check) Santa", tooltip: `Santa LSP: ready${detail}`, error: false };
    case "error":
      return { text: "$(error) Santa", tooltip: `Santa LSP error${detail}`, error: true };
    case "stopped":
      return { text: "$(debug-stop) Santa", tooltip: `Santa LSP: server stopped${detail}`, error: true };
    case "disabled":
      return { text: "$(circle-slash) Santa", tooltip: "Santa LSP: completions are off (click to toggle)", error: false };
  }
}

function isNum(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/** A one-line summary of `santa/stats`; `statsOn` is the `stats` setting. */
export function formatStats(result: unknown, statsOn: boolean): string {
  const r = (result ?? {}) as Partial<ServerStats>;
  if (!isNum(r.shown) || !isNum(r.accepted)) return "Santa LSP: the server sent no statistics.";
  const rate = r.shown > 0 ? ` (${((100 * r.accepted) / r.shown).toFixed(1)}%)` : "";
  const lat = r.latencyMs;
  const latency =
    lat && isNum(lat.p50) && isNum(lat.p95)
      ? `; latency p50 ${Math.round(lat.p50)} ms, p95 ${Math.round(lat.p95)} ms`
      : "";
  const hint = !statsOn && r.shown === 0 ? ' Statistics are off: set "santaLsp.stats": true to keep them.' : "";
  return `Santa LSP: ${r.shown} shown, ${r.accepted} accepted${rate}${latency}.${hint}`;
}
