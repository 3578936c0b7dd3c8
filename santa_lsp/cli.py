"""`santa-lsp`: the server (stdio or TCP), and the `complete`, `stats` and `bench` commands."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from santa_lsp.settings import BACKENDS, DTYPES, FIM_MODES, Settings

COMMANDS = ("complete", "stats", "bench")


def model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model directory or Hugging Face Hub id (default: the shipped model)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    parser.add_argument("--dtype", default="auto", choices=DTYPES, help="default auto")
    parser.add_argument("--max-new-tokens", type=int, default=Settings.maxNewTokens)
    parser.add_argument("--time-budget-ms", type=int, default=Settings.timeBudgetMs, help="0: none")
    parser.add_argument("--fim-mode", choices=FIM_MODES, default=Settings.fimMode)
    parser.add_argument("--no-cache", action="store_true", help="disable the typed-ahead and prefix-KV caches")
    backend = parser.add_argument_group("inference server (docs/backends.md)")
    backend.add_argument("--backend", choices=BACKENDS, default=Settings.backend, help="default local: this process")
    backend.add_argument("--backend-url", default=Settings.backendUrl, help=f"default {Settings.backendUrl}")
    backend.add_argument("--backend-model", help="the model name sent to an OpenAI-compatible server")
    backend.add_argument("--backend-api-key-env", help="NAME of the environment variable that holds the API key")
    backend.add_argument("--backend-timeout-ms", type=int, default=Settings.backendTimeoutMs, help="per HTTP request")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (stderr)")


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(
        model=args.model,
        device=args.device,
        dtype=args.dtype,
        maxNewTokens=args.max_new_tokens,
        timeBudgetMs=args.time_budget_ms,
        fimMode=args.fim_mode,
        cache=not args.no_cache,
        backend=args.backend,
        backendUrl=args.backend_url,
        backendModel=args.backend_model,
        backendApiKeyEnv=args.backend_api_key_env,
        backendTimeoutMs=args.backend_timeout_ms,
    )


def serve(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="santa-lsp",
        description="Code completion from a local model, as a language server "
        f"(more: santa-lsp {{{','.join(COMMANDS)}}} --help).",
    )
    model_arguments(parser)
    # Clients such as vscode-languageclient pass --stdio; stdio is the default anyway.
    parser.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the default)")
    parser.add_argument("--tcp", action="store_true", help="listen on TCP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1", help="TCP address (default: loopback only)")
    parser.add_argument("--port", type=int, default=2087, help="TCP port (default 2087)")
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    from santa_lsp.server import create_server  # pygls only for the server itself

    server = create_server(settings_from(args))
    if args.tcp:
        server.start_tcp(args.host, args.port)
    else:
        server.start_io()
    return server.exit_code


def setup_logging(level: str) -> None:
    # stdout carries the protocol: every log line goes to stderr.
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format="santa-lsp %(levelname)s %(name)s: %(message)s")
    if level.upper() != "DEBUG":  # pygls logs every message it sends at INFO, httpx2 every request
        for name in ("pygls", "httpx2"):
            logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in COMMANDS:
        from santa_lsp import commands

        return commands.run(args[0], args[1:])
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
