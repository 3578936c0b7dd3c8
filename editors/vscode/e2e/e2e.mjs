// End-to-end test: the packaged extension in a real VS Code (code-server) driven by Playwright
// with a headless Chromium. Types in a Python file, waits for the ghost text, takes a screenshot,
// cycles through the candidates (santaLsp.candidates: 3) with Alt+] and Alt+[, accepts the next
// word with Ctrl+Right (VS Code's acceptNextWord) and checks the rest stays shown, accepts the rest
// with Tab, saves, and checks that the file holds exactly what the server answered (recorded by
// lsp_tap.py between the extension and santa-lsp). Prepared and run by run.sh.
//
// Environment: E2E_WORK (scratch directory), E2E_VSIX, E2E_CODE_SERVER (code-server package dir),
// E2E_PYTHON, E2E_SERVER (JSON list: server command line), E2E_MODEL, E2E_CHROMIUM,
// E2E_SCREENSHOT (where the PNG goes), E2E_PORT (default 18089).

import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;
const work = path.resolve(env.E2E_WORK ?? path.join(here, ".work"));
const port = Number(env.E2E_PORT ?? 18089);
const server = JSON.parse(env.E2E_SERVER);
const entry = path.join(env.E2E_CODE_SERVER, "out", "node", "entry.js");
const screenshot = path.resolve(env.E2E_SCREENSHOT ?? path.join(work, "screenshot.png"));
const TYPED = "if n";
const SOURCE = "def add(a, b):\n    return a + b\n\n\ndef fib(n):\n    ";

const t0 = Date.now();
const log = (msg) => console.log(`[e2e ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);

function fresh(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

const userData = fresh(path.join(work, "user-data"));
const extensions = fresh(path.join(work, "extensions"));
const workspace = fresh(path.join(work, "workspace"));
const browserProfile = fresh(path.join(work, "chromium-profile"));
const tapLog = path.join(work, "lsp-messages.jsonl");
fs.rmSync(tapLog, { force: true });
const file = path.join(workspace, "example.py");
fs.writeFileSync(file, SOURCE);
const configFile = path.join(work, "code-server.yaml");
fs.writeFileSync(configFile, "auth: none\ncert: false\n");

const codeServerArgs = [
  entry,
  "--config",
  configFile,
  "--user-data-dir",
  userData,
  "--extensions-dir",
  extensions,
  "--disable-telemetry",
  "--disable-update-check",
];

// 1. Install the .vsix into a fresh extensions directory.
const install = spawnSync(process.execPath, [...codeServerArgs, "--install-extension", env.E2E_VSIX], {
  encoding: "utf8",
});
log(`install-extension: ${(install.stdout + install.stderr).trim().split("\n").pop()}`);
if (install.status !== 0) throw new Error(`--install-extension failed:\n${install.stdout}\n${install.stderr}`);

// 2. User settings: the server behind the recording proxy, the tiny model, no distractions.
fs.mkdirSync(path.join(userData, "User"), { recursive: true });
const settings = {
  "santaLsp.server.command": env.E2E_PYTHON,
  "santaLsp.server.args": [path.join(here, "lsp_tap.py"), tapLog, "--", ...server],
  "santaLsp.model": env.E2E_MODEL,
  "santaLsp.device": "cpu",
  "santaLsp.maxNewTokens": 12,
  "santaLsp.candidates": 3,
  "santaLsp.timeBudgetMs": 20000,
  "santaLsp.stats": true,
  // The tiny random model writes junk that the gates would hide: this test is about the plumbing.
  "santaLsp.minTokenProb": 0,
  "santaLsp.stopRepetition": false,
  "santaLsp.syntaxCheck": false,
  "santaLsp.tokenHealing": false,
  "editor.inlineSuggest.enabled": true,
  "editor.quickSuggestions": { other: false, comments: false, strings: false },
  "editor.suggestOnTriggerCharacters": false,
  "editor.fontSize": 18,
  "editor.minimap.enabled": false,
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.colorTheme": "Default Dark Modern",
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "chat.commandCenter.enabled": false,
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.autoUpdate": false,
  "extensions.autoCheckUpdates": false,
  "extensions.ignoreRecommendations": true,
  "files.trimTrailingWhitespace": false,
  "files.insertFinalNewline": false,
  "git.enabled": false,
  "git.openRepositoryInParentFolders": "never",
};
fs.writeFileSync(path.join(userData, "User", "settings.json"), JSON.stringify(settings, null, 2));
// code-server is a remote VS Code: settings of scope "machine-overridable" (the server command,
// model, device, dtype) belong to the machine where the server runs. From the user settings they
// are read at start but dropped when the browser pushes a configuration change.
const machine = Object.fromEntries(
  Object.entries(settings).filter(([key]) => /^santaLsp\.(server\.|model|device|dtype)/.test(key)),
);
fs.mkdirSync(path.join(userData, "Machine"), { recursive: true });
fs.writeFileSync(path.join(userData, "Machine", "settings.json"), JSON.stringify(machine, null, 2));

// 3. code-server, in its own process group so that everything it starts can be stopped.
const csLog = fs.openSync(path.join(work, "code-server.log"), "w");
const codeServer = spawn(
  process.execPath,
  [...codeServerArgs, "--bind-addr", `127.0.0.1:${port}`, "--disable-workspace-trust", workspace],
  {
    stdio: ["ignore", csLog, csLog],
    detached: true,
    // The server keeps its statistics under XDG_DATA_HOME: a fresh one, so that they count this run only.
    env: { ...process.env, XDG_DATA_HOME: fresh(path.join(work, "xdg-data")) },
  },
);
function stopCodeServer() {
  try {
    process.kill(-codeServer.pid, "SIGTERM");
  } catch {
    // already gone
  }
}
process.on("exit", stopCodeServer);

async function waitHttp(url, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer in ${ms} ms`);
}

function messages() {
  if (!fs.existsSync(tapLog)) return [];
  return fs
    .readFileSync(tapLog, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

/** Offset in `text` (a JS string, UTF-16 like LSP's default encoding) of an LSP position. */
function offsetOf(text, pos) {
  const lines = text.split("\n");
  let offset = 0;
  for (let i = 0; i < pos.line; i++) offset += lines[i].length + 1;
  return offset + pos.character;
}

let browser;
let page;
let failed = false;
try {
  await waitHttp(`http://127.0.0.1:${port}/healthz`, 60000);
  log("code-server is up");

  browser = await chromium.launchPersistentContext(browserProfile, {
    executablePath: env.E2E_CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1280, height: 720 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
  await page.locator(".monaco-workbench").waitFor({ timeout: 120000 });
  log("workbench loaded");

  // The extension's status bar item turns to the check mark once the server said "ready".
  const status = page.locator(".statusbar-item", { hasText: "Santa" });
  await status.first().waitFor({ timeout: 120000 });
  const ready = status.locator(".codicon-check");
  const broken = status.locator(".codicon-error, .codicon-debug-stop");
  await ready.or(broken).first().waitFor({ timeout: 180000 });
  if (await broken.count()) {
    throw new Error(`server failed: ${await status.first().getAttribute("aria-label")}`);
  }
  log(`status bar: ready (${await status.first().getAttribute("aria-label")})`);

  // Open the file from the Explorer (Quick Open's file search needs ripgrep, whose binary the
  // install scripts would download) and type at its end.
  await page.locator(".explorer-folders-view .monaco-list-row", { hasText: "example.py" }).first().dblclick();
  const editor = page.locator(".editor-instance .monaco-editor").first();
  await editor.waitFor();
  await editor.locator(".view-lines").click();
  await page.keyboard.press("Control+End");
  let typed = TYPED;
  await page.keyboard.type(typed, { delay: 80 });
  log(`typed ${JSON.stringify(typed)}`);

  // A random model may have nothing to say at some positions (the server drops empty or
  // whitespace-only completions): then ask explicitly, and type a little more, a few times.
  const ghost = editor.locator(".ghost-text-decoration, .ghost-text-decoration-preview, .ghost-text");
  for (const more of ["", " ", "x", " = ", "(", "a", null]) {
    try {
      await ghost.first().waitFor({ timeout: more === null ? 60000 : 15000 });
      break;
    } catch (err) {
      if (more === null) throw err;
    }
    log(`no ghost text yet: Alt+\\ (trigger) and typing ${JSON.stringify(more)}`);
    await page.keyboard.press("Alt+Backslash");
    await page.keyboard.type(more, { delay: 80 });
    typed += more;
  }
  const ghostText = (await ghost.allTextContents()).join("");
  log(`ghost text shown: ${JSON.stringify(ghostText)}`);
  await page.waitForTimeout(300);
  await page.screenshot({ path: screenshot });
  log(`screenshot: ${screenshot}`);

  // Monaco draws spaces as no-break spaces.
  const plainText = (text) => text.replace(/\u00a0/g, " ");
  const shownText = async () => plainText((await ghost.allTextContents()).join(""));
  const until = async (what, cond, ms = 10000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (await cond()) return;
      await page.waitForTimeout(100);
    }
    throw new Error(`timed out waiting for ${what}`);
  };
  const expectedStart = SOURCE + typed;
  /** The file once saved: `expectedStart` and more, other than `before` (VS Code truncates, then writes). */
  async function save(before = "") {
    let saved = "";
    for (let attempt = 0; attempt < 3; attempt++) {
      await page.keyboard.press("Control+S");
      const end = Date.now() + 5000;
      while (Date.now() < end) {
        saved = fs.readFileSync(file, "utf8");
        if (saved.startsWith(expectedStart) && saved.length > expectedStart.length && saved !== before) return saved;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return saved;
  }

  // Several candidates (santaLsp.candidates: 3): Alt+] shows another, Alt+[ the first again.
  const lastItems = () => {
    const answers = messages().filter((m) => m.dir === "s2c" && Array.isArray(m.msg.result?.items));
    return answers.length ? answers[answers.length - 1].msg.result.items : [];
  };
  // The printable tiny model gives this position two candidates of several words each.
  if (lastItems().length < 2) throw new Error(`one candidate only (${lastItems().length}): nothing to cycle`);
  {
    await page.keyboard.press("Alt+BracketRight");
    await until("Alt+] to show another candidate", async () => (await shownText()) !== plainText(ghostText));
    const second = await shownText();
    await page.keyboard.press("Alt+BracketLeft");
    await until("Alt+[ to show the first again", async () => (await shownText()) === plainText(ghostText));
    log(`cycled: ${JSON.stringify(second)} and back to ${JSON.stringify(ghostText)}`);
  }

  // Accept the next word (VS Code's own acceptNextWord), then the rest with Tab, then save.
  await page.keyboard.press("Control+ArrowRight");
  await page.waitForTimeout(500);
  if ((await ghost.count()) === 0) throw new Error("accept-word took all of a suggestion of several words");
  const afterWord = await save();
  const part = afterWord.slice(expectedStart.length);
  if (!part || !plainText(ghostText).startsWith(part) || part.length >= ghostText.length) {
    throw new Error(`accept-word inserted ${JSON.stringify(part)} of ${JSON.stringify(ghostText)}`);
  }
  log(`accept-word inserted ${JSON.stringify(part)}; the rest stays shown: ${JSON.stringify(await shownText())}`);
  await page.keyboard.press("Tab");
  await ghost.first().waitFor({ state: "detached", timeout: 10000 }).catch(() => undefined);
  await page.waitForTimeout(300);
  const saved = await save(afterWord);
  log(`saved file ends with: ${JSON.stringify(saved.slice(SOURCE.length - 4))}`);

  // What did the server answer for the position where Tab was pressed?
  const msgs = messages();
  const requests = new Map();
  for (const m of msgs) {
    if (m.dir === "c2s" && m.msg.method === "textDocument/inlineCompletion") requests.set(m.msg.id, m.msg.params);
  }
  const answers = msgs
    .filter((m) => m.dir === "s2c" && requests.has(m.msg.id) && m.msg.result)
    .map((m) => ({ params: requests.get(m.msg.id), result: m.msg.result }))
    .map(({ params, result }) => ({ params, items: Array.isArray(result) ? result : (result.items ?? []) }))
    .filter((a) => a.items.length > 0);
  if (answers.length === 0) throw new Error("the server answered no inline completion items");
  const typedAt = expectedStart;
  const candidates = [];
  for (const a of answers) {
    for (const item of a.items) {
      const text = typeof item.insertText === "string" ? item.insertText : item.insertText.value;
      const start = item.range ? offsetOf(typedAt, item.range.start) : offsetOf(typedAt, a.params.position);
      const stop = Math.max(item.range ? offsetOf(typedAt, item.range.end) : start, typedAt.length);
      candidates.push(typedAt.slice(0, start) + text + typedAt.slice(stop));
    }
  }
  if (!candidates.includes(saved)) {
    throw new Error(
      `the saved file is not the typed text plus a completion the server answered.\nsaved: ${JSON.stringify(saved)}\n` +
        `candidates: ${JSON.stringify(candidates)}`,
    );
  }
  log("the accepted text is exactly the server's completion");

  const accepted = msgs.filter(
    (m) => m.dir === "c2s" && m.msg.method === "workspace/executeCommand" && m.msg.params?.command === "santa-lsp.accepted",
  );
  if (accepted.length === 0) throw new Error("santa-lsp.accepted was not sent to the server on accept");
  log(`santa-lsp.accepted sent with ${JSON.stringify(accepted[0].msg.params.arguments)}`);

  // Opening the file put the cursor somewhere new: the extension told the server (santa/prefill).
  const prefills = msgs.filter((m) => m.dir === "c2s" && m.msg.method === "santa/prefill");
  if (prefills.length === 0) throw new Error("santa/prefill was never sent, though the cursor came to rest in the file");
  log(`santa/prefill sent ${prefills.length} times, first at ${JSON.stringify(prefills[0].msg.params.position)}`);

  // The statistics command through the command palette.
  await page.keyboard.press("F1");
  await page.locator(".quick-input-widget input").waitFor();
  await page.keyboard.type("Santa LSP: Show Statistics");
  await page.locator(".quick-input-list .monaco-list-row", { hasText: "Show Statistics" }).first().waitFor();
  await page.keyboard.press("Enter");
  const toast = page.locator(".notifications-toasts .notification-list-item-message", { hasText: "accepted" });
  await toast.first().waitFor({ timeout: 30000 });
  const toastText = (await toast.first().textContent()) ?? "";
  log(`statistics: ${toastText.trim()}`);
  if (!/ 1 accepted/.test(toastText)) throw new Error(`statistics do not count the one acceptance: ${toastText}`);
  await page.screenshot({ path: path.join(work, "stats.png") });

  // Toggle completions: the status bar item shows it, and the server gets enabled=false live.
  async function runCommand(title) {
    await page.keyboard.press("Escape");
    await page.keyboard.press("F1");
    await page.locator(".quick-input-widget input").waitFor();
    await page.keyboard.type(title);
    await page.locator(".quick-input-list .monaco-list-row", { hasText: title.split(": ")[1] }).first().waitFor();
    await page.keyboard.press("Enter");
  }
  await runCommand("Santa LSP: Toggle Completions");
  await status.locator(".codicon-circle-slash").first().waitFor({ timeout: 15000 });
  const pushed = () =>
    messages().filter((m) => m.dir === "c2s" && m.msg.method === "workspace/didChangeConfiguration");
  const end2 = Date.now() + 10000;
  while (Date.now() < end2 && !pushed().some((m) => m.msg.params.settings?.santaLsp?.enabled === false)) {
    await page.waitForTimeout(100);
  }
  if (!pushed().some((m) => m.msg.params.settings?.santaLsp?.enabled === false)) {
    throw new Error("toggling did not send didChangeConfiguration with enabled: false");
  }
  log("toggle: status bar shows completions off; server told enabled=false");
  await runCommand("Santa LSP: Toggle Completions");
  await ready.first().waitFor({ timeout: 15000 });

  // Restart: a new server process that initializes and reports ready again.
  const initializes = () => messages().filter((m) => m.dir === "c2s" && m.msg.method === "initialize").length;
  const before = initializes();
  await runCommand("Santa LSP: Restart Server");
  const end3 = Date.now() + 60000;
  while (Date.now() < end3 && initializes() === before) await page.waitForTimeout(200);
  if (initializes() === before) throw new Error("Restart Server started no new server");
  await ready.first().waitFor({ timeout: 120000 });
  log("restart: a new server initialized and is ready");
} catch (err) {
  failed = true;
  console.error(`[e2e] FAILED: ${err instanceof Error ? err.stack : err}`);
  if (page) {
    await page.screenshot({ path: path.join(work, "failure.png") }).catch(() => undefined);
    console.error(`[e2e] failure screenshot: ${path.join(work, "failure.png")}`);
  }
} finally {
  await browser?.close().catch(() => undefined);
  stopCodeServer();
}
log(failed ? "e2e: 0 passed, 1 failed" : "e2e: 1 passed, 0 failed");
process.exit(failed ? 1 : 0);
