"""Shared pytest configuration and fixtures.

`pytest -m "not slow"` leaves out the heavy tests (training runs, benchmarks, the editors in a
real Neovim) for a quick loop; a plain `pytest`, as CI runs it, runs them all. Tests marked `cuda`
are skipped without a GPU.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_lsp
import torch
from pytest_lsp import LanguageClient

import model
from model.tokenizer import Tokenizer, load_tokenizer
from tests.lsp_support import LONG, SLOW_PROMPT, make_printable_model, record_statuses, server_config, stop
from tests.tiny import make_tokenizer


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_cuda = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "cuda" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_cuda)


@pytest.fixture
def fresh_accelerate_state() -> Iterator[None]:
    """accelerate keeps one mixed-precision setting per process; a test that changes it resets it."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


@pytest.fixture(scope="session")
def tok(tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    """The tiny SantaCoder-like tokenizer of tests/tiny.py, with its FIM tokens found."""
    return load_tokenizer(make_tokenizer(tmp_path_factory.mktemp("tok")))


# --- the language server --------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_printable_model(tmp_path_factory.mktemp("tiny") / "model", n_positions=256)


@pytest.fixture(scope="session")
def slow_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Big enough that a long generation takes seconds on a CPU: for cancellation and budgets."""
    return make_printable_model(tmp_path_factory.mktemp("slow") / "model", n_positions=1024, n_embd=256, n_layer=8)


@pytest.fixture(scope="session")
def slow_token_s(slow_model: Path) -> float:
    """Seconds per token of the slow model's long generation on this host, measured here: tests
    that act while a generation runs wait a share of it, so a faster host cannot finish it first."""
    engine = model.load(slow_model, dtype="fp32")
    config = model.GenerationConfig(max_new_tokens=LONG)
    runs = []
    for _ in range(2):  # the first one allocates
        started = time.perf_counter()
        engine.generate(SLOW_PROMPT, config)
        runs.append(time.perf_counter() - started)
    return min(runs) / LONG


@pytest_lsp.fixture(config=server_config())
async def client(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    """A fresh server per test, started by `tests.lsp_support.start`."""
    record_statuses(lsp_client)
    yield
    await stop(lsp_client)
