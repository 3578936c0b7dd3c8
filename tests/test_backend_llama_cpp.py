"""The inference-server backends against a real llama.cpp server (santa_lsp/remote.py).

llama-server is built once from the llama-cpp-python sdist and cached (bench/llama_cpp.py); the
shipped model is converted to GGUF by llama.cpp's own converter (f32, so it computes what our
fp32 runtime does). Through the real santa-lsp: the llama.cpp backend (/infill) and the openai
backend (/v1/completions) give the suggestions the local runtime gives; a superseded request's
generation stops on the server; a server that goes down is reported once and used again when
it is back. The first run builds llama-server (minutes on 2 cores); a machine that cannot
build it (no compiler or cmake) skips these tests and says why.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

import model
from bench.llama_cpp import BuildImpossible, LlamaServer, build_server, convert_model
from santa_lsp import bench
from tests.lsp_support import (
    STATUSES,
    init_params,
    inline,
    insert,
    make_printable_model,
    metrics,
    open_doc,
    plain,
    start,
    wait_status,
)

pytestmark = pytest.mark.slow  # builds llama-server on the first run, then starts real servers

FIB = (Path(__file__).resolve().parent.parent / "examples" / "fib.py").read_text()
CODE = "def main():\n    print("
CURSOR = (1, 10)  # where the shipped model writes something in either FIM order
# (Not on a blank line: there the local runtime does not let the model end at once
# (GenerationConfig.require_code), which no server can be asked for; docs/backends.md.)
# What the remote backends cannot do is off on both sides (token healing, the loop stop), and the
# caches, so that every request is answered by the backend under test; the syntax gate stays on,
# the confidence gate is judged on its own (the shipped model is unsure of most of what it writes).
SAME = {"tokenHealing": False, "stopRepetition": False, "cache": False, "crossFile": False, "timeBudgetMs": 0,
        "minTokenProb": 0.0, "syntaxCheck": True}  # fmt: skip


@pytest.fixture(scope="session")
def shipped_gguf() -> Path:
    try:
        build_server()
    except BuildImpossible as reason:
        pytest.skip(str(reason))
    return convert_model(model.DEFAULT_MODEL)


@pytest.fixture(scope="module")
def llama(shipped_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    with LlamaServer(shipped_gguf, tmp_path_factory.mktemp("llama") / "server.log", debug_slots=True) as server:
        yield server


def post(server: LlamaServer, path: str, body: dict[str, Any]) -> Any:
    response = httpx2.post(server.url + path, json=body, timeout=60)
    response.raise_for_status()
    return response.json()


def slot(server: LlamaServer) -> dict[str, Any]:
    return httpx2.get(server.url + "/slots", timeout=10).json()[0]


def test_the_gguf_tokenizes_like_our_tokenizer_and_infill_uses_our_fim_tokens(llama: LlamaServer) -> None:
    tokenizer = model.load_tokenizer_only(model.DEFAULT_MODEL)[0]
    for text in [FIB, "x = 1234567 + 3.14\n", "    return 'héllo, wörld' # ünïcode ✓\n\t\tpass\r\n", "a  \n\n  b"]:
        assert post(llama, "/tokenize", {"content": text})["tokens"] == tokenizer.encode(text), text
    fim = tokenizer.fim
    assert [post(llama, "/detokenize", {"tokens": [i]})["content"] for i in (fim.prefix, fim.suffix, fim.middle)] == [
        "<fim-prefix>",
        "<fim-suffix>",
        "<fim-middle>",
    ]
    post(llama, "/infill", {"input_prefix": "def f(x):\n    ", "input_suffix": "\n", "n_predict": 1})
    # llama-server laid the prompt out as SantaCoder's PSM, with the FIM tokens as tokens.
    assert slot(llama)["prompt"] == "<fim-prefix>def f(x):\n    <fim-suffix>\n<fim-middle>"


async def suggestion(client: LanguageClient, **settings: Any) -> str | None:
    """The inline suggestion at CURSOR once `settings` are in (a backend change reloads)."""
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"santaLsp": settings}))
    if {"backend", "backendUrl"} & settings.keys():
        assert (await wait_status(client))["state"] == "ready"
    items = (await inline(client, *CURSOR, URI)).items
    return items[0].insert_text if items else None


URI = "file:///work/fib.py"


@pytest.mark.asyncio
@pytest.mark.parametrize(("backend", "fim_mode"), [("llama.cpp", "psm"), ("openai", "psm"), ("openai", "spm")], ids=str)
async def test_a_backend_suggests_what_the_local_runtime_suggests(
    client: LanguageClient, llama: LlamaServer, backend: str, fim_mode: str
) -> None:
    await start(client, model.DEFAULT_MODEL, maxNewTokens=24, fimMode=fim_mode, **SAME)
    open_doc(client, CODE, URI)
    local = await suggestion(client)
    assert local and local.strip(), "the shipped model suggests something here"
    remote = await suggestion(client, backend=backend, backendUrl=llama.url)
    assert remote == local
    counted = await metrics(client)
    assert counted["modelCalls"] == 2 and counted["promptTokens"] > 0
    # The confidence gate reads the server's log-probabilities: the model is far from this sure.
    assert await suggestion(client, minTokenProb=0.9) is None
    assert (await metrics(client))["unsureDropped"] == 1


@pytest.mark.asyncio
async def test_a_backend_change_resets_the_records_and_a_server_gives_one_candidate(
    client: LanguageClient, llama: LlamaServer
) -> None:
    await start(client, model.DEFAULT_MODEL, maxNewTokens=24, **{**SAME, "cache": True, "candidates": 3})
    open_doc(client, CODE, URI)
    local = (await inline(client, *CURSOR, URI)).items
    assert len(local) > 1, "the local batch gives several candidates here"
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"santaLsp": {"backend": "llama.cpp", "backendUrl": llama.url}})
    )
    assert (await wait_status(client))["state"] == "ready"
    # The same cursor and text: the record's candidates would answer it from the typed-ahead
    # cache, had the backend change not reset them. The server is asked, and gives one.
    remote = (await inline(client, *CURSOR, URI)).items
    assert len(remote) == 1
    counted = await metrics(client)
    assert counted["typedAheadHits"] == 0 and counted["modelCalls"] == 2


@pytest.mark.asyncio
async def test_the_cross_file_context_goes_to_llama_cpp_as_input_extra(
    client: LanguageClient, llama: LlamaServer
) -> None:
    await start(client, model.DEFAULT_MODEL, backend="llama.cpp", backendUrl=llama.url, maxNewTokens=8,
                crossFileTokens=64, timeBudgetMs=0)  # fmt: skip
    helper = "def is_even(number):\n    return number % 2 == 0\n"
    open_doc(client, helper, "file:///work/helpers.py")
    open_doc(client, FIB, URI)
    await inline(client, *CURSOR, URI)
    prompt = slot(llama)["prompt"]
    # llama-server puts extra chunks before <fim-prefix>, after its own snippet separator.
    assert prompt.index(helper) < prompt.index("<fim-prefix>")
    assert prompt.endswith("<fim-middle>")


@pytest.mark.asyncio
async def test_a_server_that_goes_down_is_reported_once_and_used_again_when_back(
    client: LanguageClient, shipped_gguf: Path, tmp_path: Path
) -> None:
    server = LlamaServer(shipped_gguf, tmp_path / "server.log").start()
    try:
        await start(client, model.DEFAULT_MODEL, backend="llama.cpp", backendUrl=server.url, maxNewTokens=24, **SAME)
        open_doc(client, CODE, URI)
        before = await suggestion(client)
        assert before
        server.stop()
        assert await suggestion(client) is None
        assert await suggestion(client) is None
        down = plain(await asyncio.wait_for(STATUSES[client].get(), 10))
        assert down["state"] == "error" and server.url in down["message"]
        server.start()  # the same port
        assert await suggestion(client) == before
        back = plain(await asyncio.wait_for(STATUSES[client].get(), 10))
        assert back["state"] == "ready" and "answering again" in back["message"]
        assert STATUSES[client].empty()  # one error and one recovery, whatever the number of requests
        errors = [m for m in client.messages if m.type == types.MessageType.Error]
        assert len(errors) == 1
    finally:
        server.stop()


# --- cancellation ------------------------------------------------------------------------------


# Decoding steps counted (--metrics); generation past the end-of-text token (--ignore-eos): the
# random model ends within a few dozen tokens otherwise, so 1000 tokens take llama-server seconds.
LONG_RUN = ("--metrics", "--ignore-eos")


@pytest.fixture(scope="module")
def long_gguf(tmp_path_factory: pytest.TempPathFactory, shipped_gguf: Path) -> tuple[Path, Path]:
    """A random model that never ends a generation early (tests/lsp_support.py) and is big enough
    that 1000 tokens take llama-server seconds: its checkpoint (for the tokenizer) and its GGUF.
    Its feed-forward width is 4 x n_embd, as SantaCoder's: what llama.cpp's converter writes for
    GPT-BigCode whatever config.json says."""
    directory = make_printable_model(
        tmp_path_factory.mktemp("long") / "model", n_positions=2048, n_embd=512, n_layer=8, n_inner=2048
    )
    return directory, convert_model(directory)


@pytest.mark.asyncio
async def test_a_superseded_request_stops_the_generation_on_the_server(
    client: LanguageClient, long_gguf: tuple[Path, Path], tmp_path: Path
) -> None:
    checkpoint, gguf = long_gguf
    with LlamaServer(gguf, tmp_path / "server.log", *LONG_RUN, context=2048) as server:
        await start(client, checkpoint, backend="llama.cpp", backendUrl=server.url, maxNewTokens=1000,
                    timeBudgetMs=0, crossFile=False)  # fmt: skip
        open_doc(client, "def f(x):\n    \n", URI)
        request = asyncio.ensure_future(inline(client, 1, 4, URI))
        while decodes(server) < 10:  # the generation is under way
            await asyncio.sleep(0.01)
        insert(client, 1, 4, "r", version=2, uri=URI)  # a keystroke: the running request is stale
        assert not (await request).items
        while slot(server)["is_processing"]:
            await asyncio.sleep(0.05)
        # A generation run to its end would have taken 1000 decoding steps.
        assert decodes(server) < 1000, "the superseded generation ran on to its end"
        assert (await metrics(client))["cancelled"] == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", ["llama.cpp", "openai"])
async def test_the_time_budget_ends_the_servers_generation_and_keeps_the_answer(
    client: LanguageClient, long_gguf: tuple[Path, Path], tmp_path: Path, backend: str
) -> None:
    # /v1/completions has no time limit of its own: there only santa-lsp closing the stream at
    # the budget stops the generation; /infill also gets it as t_max_predict_ms.
    checkpoint, gguf = long_gguf
    with LlamaServer(gguf, tmp_path / "server.log", *LONG_RUN, context=2048) as server:
        await start(client, checkpoint, backend=backend, backendUrl=server.url, maxNewTokens=1000,
                    timeBudgetMs=300, crossFile=False)  # fmt: skip
        open_doc(client, "def f(x):\n    \n", URI)
        await inline(client, 1, 4, URI)
        while slot(server)["is_processing"]:
            await asyncio.sleep(0.05)
        assert decodes(server) < 1000, "the generation ran on past the time budget"
        counted = await metrics(client)
        assert counted["modelCalls"] == 1 and counted["cancelled"] == 0  # an answer, cut by time: no error
        assert STATUSES[client].empty()


def decodes(server: LlamaServer) -> int:
    """llama-server's count of decoding steps so far (its Prometheus /metrics)."""
    text = httpx2.get(server.url + "/metrics", timeout=10).text
    return int(float(next(line.split()[1] for line in text.splitlines() if line.startswith("llamacpp:n_decode_total"))))


def test_the_latency_bench_types_a_session_against_llama_cpp(
    llama: LlamaServer, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--model", str(model.DEFAULT_MODEL), "--keystrokes", "10", "--max-new-tokens", "4", "--follow", "0",
            "--only", "remote", "--backend", "llama.cpp", "--backend-url", llama.url]  # fmt: skip
    assert bench.main(argv) == 0
    line = capsys.readouterr().out.strip()
    assert re.match(r"llama\.cpp\s+requests\s+10\s+p50\s+[\d.]+ ms", line), line
    calls = re.search(r"model calls\s+(\d+)", line)
    assert calls and int(calls.group(1)) > 0, line
    # llama-server's prompt cache (cache_prompt) served part of the prompts, as it reports them.
    reused = re.search(r"prefix-KV reuse\s+([\d.]+)%", line)
    assert reused and float(reused.group(1)) > 0, line


@pytest.mark.asyncio
async def test_without_the_models_tokenizer_llama_cpp_windows_by_characters(
    client: LanguageClient, llama: LlamaServer
) -> None:
    await client.initialize_session(
        init_params({"backend": "llama.cpp", "backendUrl": llama.url, "maxNewTokens": 24, **SAME})
    )
    ready = await wait_status(client)
    assert ready["state"] == "ready" and "by characters" in ready["message"]
    open_doc(client, CODE, URI)
    assert (await inline(client, *CURSOR, URI)).items  # the same prompt text reaches llama-server
    assert slot(llama)["prompt"] == f"<fim-prefix>{CODE}<fim-suffix><fim-middle>"


def test_santa_lsp_complete_asks_the_server(llama: LlamaServer, tmp_path: Path) -> None:
    source = tmp_path / "main.py"
    source.write_text(CODE)
    command = [sys.executable, "-m", "santa_lsp.cli", "complete", "--backend", "llama.cpp", "--backend-url",
               llama.url, "--model", str(model.DEFAULT_MODEL), "--fim-mode", "psm", f"{source}:2:11"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr  # a suggestion, or "no suggestion" (the model is unsure)
    assert slot(llama)["prompt"].startswith(f"<fim-prefix>{CODE}")
