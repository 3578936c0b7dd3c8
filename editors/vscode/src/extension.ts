// VS Code client of the santa-lsp language server (docs/protocol.md).
// Inline completion is provided by vscode-languageclient's built-in textDocument/inlineCompletion
// feature; this file adds launching, settings, the status bar item and the commands.

import * as fs from "node:fs";
import * as os from "node:os";
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  State,
} from "vscode-languageclient/node";
import { COPIED, Clipboard } from "./copied";
import { resolveServer } from "./launch";
import { PREFILL, type Place, Prefiller } from "./prefill";
import {
  type LaunchSettings,
  type ServerSettings,
  languageEnabled,
  needsRestart,
  serverArgs,
  toLaunchSettings,
  toServerSettings,
} from "./settings";
import { formatStats, parseStatus, statusView, type ViewState } from "./status";

const SECTION = "santaLsp";
const ACCEPT_COMMAND = "santa-lsp.accepted";

interface Settings {
  server: ServerSettings;
  launch: LaunchSettings;
}

function readSettings(): Settings {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  const get = (key: string) => cfg.get<unknown>(key);
  const home = os.homedir();
  return { server: toServerSettings(get, home), launch: toLaunchSettings(get, home) };
}

/** The cursor of an editor with no selection, where a suggestion could be asked for. */
function cursorPlace(editor: vscode.TextEditor | undefined): Place | undefined {
  if (!editor || !editor.selection.isEmpty) return undefined;
  const { line, character } = editor.selection.active;
  return { uri: editor.document.uri.toString(), line, character, version: editor.document.version };
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

class SantaExtension implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private settings: Settings = readSettings();
  private state: ViewState = "starting";
  private message = "";
  private readonly item: vscode.StatusBarItem;
  private readonly output: vscode.LogOutputChannel;
  private readonly disposables: vscode.Disposable[] = [];
  private fallbackAccept: vscode.Disposable | undefined;
  private stopping = false;
  private readonly prefiller = new Prefiller(
    (place) => {
      this.prefill(place);
      this.copied();
    },
    () => cursorPlace(vscode.window.activeTextEditor),
  );
  private readonly clipboard = new Clipboard(
    () => vscode.env.clipboard.readText(),
    (text) => vscode.workspace.textDocuments.some((document) => document.getText().includes(text)),
    async (text) => {
      await this.client?.sendNotification(COPIED, { text });
    },
  );

  constructor() {
    this.output = vscode.window.createOutputChannel("Santa LSP", { log: true });
    this.item = vscode.window.createStatusBarItem("santaLsp.status", vscode.StatusBarAlignment.Right, 100);
    this.item.name = "Santa LSP";
    this.item.command = "santaLsp.menu";
    this.disposables.push(
      this.output,
      this.item,
      vscode.commands.registerCommand("santaLsp.restart", () => this.restart()),
      vscode.commands.registerCommand("santaLsp.toggle", () => this.toggle()),
      vscode.commands.registerCommand("santaLsp.showStats", () => this.showStats()),
      vscode.commands.registerCommand("santaLsp.showOutput", () => this.output.show()),
      vscode.commands.registerCommand("santaLsp.menu", () => this.menu()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(SECTION)) void this.onSettingsChanged();
      }),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        this.render();
        this.cursorMoved(editor);
      }),
      vscode.window.onDidChangeTextEditorSelection((e) => this.cursorMoved(e.textEditor)),
      this.prefiller,
    );
    this.item.show();
  }

  private cursorMoved(editor: vscode.TextEditor | undefined): void {
    const place = cursorPlace(editor);
    if (place) this.prefiller.moved(place);
  }

  /** `santa/prefill` where the cursor came to rest, if completion is on there. */
  private prefill(place: Place): void {
    const client = this.client;
    const document = vscode.window.activeTextEditor?.document;
    if (!client || client.state !== State.Running || !this.settings.server.enabled || !document) return;
    const enableMap = vscode.workspace.getConfiguration(SECTION).get<unknown>("enable");
    if (!languageEnabled(enableMap, document.languageId)) return;
    const params = { textDocument: { uri: place.uri }, position: { line: place.line, character: place.character } };
    client.sendNotification(PREFILL, params).catch((err: unknown) => this.output.warn(`${PREFILL}: ${String(err)}`));
  }

  /** `santa/copied` with the clipboard's text, if new (setting `recentEdits`: the server ignores it otherwise). */
  private copied(): void {
    if (this.client?.state !== State.Running || !this.settings.server.recentEdits) return;
    this.clipboard.check().catch((err: unknown) => this.output.warn(`${COPIED}: ${String(err)}`));
  }

  dispose(): void {
    void this.stop();
    for (const d of this.disposables) d.dispose();
  }

  private setState(state: ViewState, message: string): void {
    this.state = state;
    this.message = message;
    this.render();
  }

  private render(): void {
    const lang = vscode.window.activeTextEditor?.document.languageId;
    const enableMap = vscode.workspace.getConfiguration(SECTION).get<unknown>("enable");
    const languageOff = lang !== undefined && !languageEnabled(enableMap, lang);
    const shown: ViewState = !this.settings.server.enabled && this.state === "ready" ? "disabled" : this.state;
    const view = statusView(shown, this.message, languageOff);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor = view.error ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  }

  async start(): Promise<void> {
    const { server, launch } = this.settings;
    let exe;
    try {
      exe = resolveServer(launch, process.env, isFile);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.setState("error", msg);
      void vscode.window.showErrorMessage(msg, "Open Settings").then((pick) => {
        if (pick) void vscode.commands.executeCommand("workbench.action.openSettings", "santaLsp.server");
      });
      return;
    }
    const args = exe.args.concat(serverArgs(server, launch));
    this.output.info(`starting: ${exe.command} ${args.join(" ")}`);
    const serverOptions: ServerOptions = {
      // No `transport`: with TransportKind.stdio the client would append --stdio, which
      // santa-lsp's command line does not take; stdio is the default for an executable.
      command: exe.command,
      args,
      options: { env: process.env },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
      outputChannel: this.output,
      initializationOptions: () => this.settings.server,
      middleware: {
        provideInlineCompletionItems: (document, position, context, token, next) => {
          if (!this.settings.server.enabled) return undefined;
          const enableMap = vscode.workspace.getConfiguration(SECTION).get<unknown>("enable");
          if (!languageEnabled(enableMap, document.languageId)) return undefined;
          return next(document, position, context, token);
        },
        workspace: {
          // A server that pulls its settings gets the same mapped object as the push.
          configuration: (params, token, next) => {
            if (params.items.every((i) => i.section === SECTION || i.section === undefined)) {
              return params.items.map((i) => (i.section === SECTION ? this.settings.server : { [SECTION]: this.settings.server }));
            }
            return next(params, token);
          },
        },
      },
    };
    const client = new LanguageClient("santaLsp", "Santa LSP", serverOptions, clientOptions);
    this.client = client;
    this.stopping = false;
    client.onNotification("santa/status", (params: unknown) => {
      const status = parseStatus(params);
      if (!status) return;
      this.output.info(`status: ${status.state}${status.message ? ` (${status.message})` : ""}`);
      this.setState(status.state, status.message);
    });
    client.onDidChangeState((e) => {
      if (e.newState === State.Starting) this.setState("starting", "");
      else if (e.newState === State.Stopped && !this.stopping && this.client === client) {
        this.setState("stopped", "the server exited; see the Santa LSP output");
      }
    });
    this.setState("starting", "");
    try {
      await client.start();
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.output.error(`start failed: ${msg}`);
      this.setState("error", `could not start ${exe.command}: ${msg}`);
      return;
    }
    // The server may have said "ready" or "loading" already; if not, it is loading.
    if (this.state === "starting") this.setState("loading", "");
    await this.ensureAcceptCommand(client);
  }

  /**
   * Completion items carry the command `santa-lsp.accepted`. vscode-languageclient registers it
   * when the server lists it in executeCommandProvider; otherwise forward it ourselves.
   */
  private async ensureAcceptCommand(client: LanguageClient): Promise<void> {
    const commands = await vscode.commands.getCommands(true);
    if (commands.includes(ACCEPT_COMMAND)) return;
    this.fallbackAccept = vscode.commands.registerCommand(ACCEPT_COMMAND, (...args: unknown[]) => {
      if (client.state !== State.Running) return;
      return client.sendRequest(ExecuteCommandRequest.type, { command: ACCEPT_COMMAND, arguments: args }).then(
        undefined,
        (err: unknown) => this.output.warn(`${ACCEPT_COMMAND} failed: ${String(err)}`),
      );
    });
  }

  async stop(): Promise<void> {
    this.fallbackAccept?.dispose();
    this.fallbackAccept = undefined;
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    this.stopping = true;
    try {
      if (client.isRunning()) await client.stop(5000);
    } catch (err) {
      this.output.warn(`stop: ${String(err)}`);
    }
    try {
      await client.dispose();
    } catch {
      // already stopped
    }
  }

  async restart(): Promise<void> {
    this.output.info("restarting the server");
    await this.stop();
    this.settings = readSettings();
    await this.start();
  }

  private async onSettingsChanged(): Promise<void> {
    const before = this.settings;
    const after = readSettings();
    if (!this.client || needsRestart(before, after)) {
      this.settings = after;
      await this.restart();
      return;
    }
    this.settings = after;
    this.render();
    if (this.client.isRunning()) {
      await this.client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: { [SECTION]: after.server },
      });
    }
  }

  private async toggle(): Promise<void> {
    const cfg = vscode.workspace.getConfiguration(SECTION);
    const on = !this.settings.server.enabled;
    await cfg.update("enabled", on, vscode.ConfigurationTarget.Global);
    void vscode.window.setStatusBarMessage(`Santa LSP completions ${on ? "on" : "off"}`, 3000);
  }

  private async showStats(): Promise<void> {
    if (!this.client?.isRunning()) {
      void vscode.window.showWarningMessage("Santa LSP: the server is not running.");
      return;
    }
    try {
      const result = await this.client.sendRequest("santa/stats", {});
      void vscode.window.showInformationMessage(formatStats(result, this.settings.server.stats));
    } catch (err) {
      void vscode.window.showErrorMessage(`Santa LSP: santa/stats failed: ${String(err)}`);
    }
  }

  private async menu(): Promise<void> {
    const items: (vscode.QuickPickItem & { command: string })[] = [
      { label: this.settings.server.enabled ? "Turn completions off" : "Turn completions on", command: "santaLsp.toggle" },
      { label: "Show statistics", command: "santaLsp.showStats" },
      { label: "Restart server", command: "santaLsp.restart" },
      { label: "Show server log", command: "santaLsp.showOutput" },
      { label: "Open settings", command: "workbench.action.openSettings" },
    ];
    const pick = await vscode.window.showQuickPick(items, { title: `Santa LSP: ${this.state} ${this.message}`.trim() });
    if (!pick) return;
    if (pick.command === "workbench.action.openSettings") {
      await vscode.commands.executeCommand(pick.command, SECTION);
    } else {
      await vscode.commands.executeCommand(pick.command);
    }
  }
}

let extension: SantaExtension | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  extension = new SantaExtension();
  context.subscriptions.push(extension);
  await extension.start();
}

export async function deactivate(): Promise<void> {
  await extension?.stop();
  extension = undefined;
}
