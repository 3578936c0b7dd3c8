"""One owner for the FIM layout and budget (model.fim): the server's prompts fit the engine untrimmed."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import model
from model import fim
from model.tokenizer import FimTokens
from santa_lsp.documents import Document, split_lines
from santa_lsp.prompt import MARGIN, PromptBuilder
from santa_lsp.window import Cursor, TokenCounter
from santa_lsp.workspace import OpenDocument

pytestmark = pytest.mark.skipif(model.default_model() is None, reason="the shipped model is not installed")

IDS = FimTokens(prefix=1, middle=2, suffix=3, pad=None)


@pytest.fixture(scope="module")
def engine() -> model.Engine:
    return model.load(model.DEFAULT_MODEL, device="cpu", dtype="fp32")


# --- model.fim on its own ---------------------------------------------------------------------


def test_budget_leaves_room_for_the_fim_tokens_and_the_output() -> None:
    assert fim.FIM_TOKENS == 3
    assert fim.prompt_budget(512, 64) == 512 - 64 - 3
    assert fim.suffix_budget(400) == 100  # prefix:suffix = 3:1
    builder = PromptBuilder(TokenCounter(lambda text: len(text.split())), 512)
    assert builder.budget(64) == fim.prompt_budget(512, 64) - MARGIN


def test_both_orders_and_bad_modes() -> None:
    assert fim.arrange([10, 11], [20], "psm", IDS) == [1, 10, 11, 3, 20, 2]
    assert fim.arrange([10, 11], [20], "spm", IDS) == [1, 3, 20, 2, 10, 11]
    with pytest.raises(ValueError, match="unknown FIM mode"):
        fim.arrange([], [], "pms", IDS)


def test_fit_keeps_the_cursor_side() -> None:
    prefix, suffix = list(range(100)), list(range(100, 200))
    assert fim.fit_prefix_suffix(prefix[:30], suffix[:30], 80) == (prefix[:30], suffix[:30])  # fits: untouched
    kept_prefix, kept_suffix = fim.fit_prefix_suffix(prefix, suffix, 80)
    assert kept_prefix == prefix[-60:] and kept_suffix == suffix[: fim.suffix_budget(80)]
    short_prefix, long_suffix = fim.fit_prefix_suffix(prefix[:10], suffix, 80)
    assert (short_prefix, long_suffix) == (prefix[:10], suffix[:70])  # a short side leaves its share
    long_prefix, short_suffix = fim.fit_prefix_suffix(prefix, suffix[:5], 80)
    assert (long_prefix, short_suffix) == (prefix[-75:], suffix[:5])


# --- the server's prompts through the engine ---------------------------------------------------

NAMES = ["value", "items", "result", "self", "config", "données", "名前", "x", "total_count", "ΔT"]
SYMBOLS = ["(", ")", "[", "]", "{", "}", ":", ",", ".", "=", "+", "->", "==", "#", '"', "'", "\\", "🎄", "\u200b"]
indent = st.sampled_from(["", " ", "  ", "    ", "        ", "\t", "\t\t", " \t", "      "])
word = st.one_of(st.sampled_from(NAMES + SYMBOLS), st.text(min_size=1, max_size=12))
separator = st.sampled_from([" ", "", "  "])
code_line = st.builds(lambda i, ws, sep: i + sep.join(ws), indent, st.lists(word, max_size=14), separator)
repeated = st.sampled_from(["abc ", "x=1;", "  ", "é", "🎄", "\t", "a" * 7])
long_line = st.builds(lambda w, n: w * n, repeated, st.integers(50, 900))  # minified code, data files
any_line = st.one_of(code_line, code_line, code_line, st.just(""), long_line)
line_end = st.sampled_from(["\n", "\n", "\n", "\r\n"])


@st.composite
def documents(draw: st.DrawFn, max_lines: int = 120) -> str:
    lines = draw(st.lists(any_line, min_size=1, max_size=max_lines))
    ends = draw(st.lists(line_end, min_size=len(lines), max_size=len(lines)))
    return "".join(line + end for line, end in zip(lines, ends, strict=True)) + draw(any_line)


def after(cursor: Cursor, typed: str) -> Cursor:
    """Where the cursor is once `typed` is inserted at it."""
    lines = split_lines(typed)
    if len(lines) == 1:
        return Cursor(cursor.line, cursor.column + len(typed))
    return Cursor(cursor.line + len(lines) - 1, len(lines[-1]))


def check_untrimmed(engine: model.Engine, prefix: str, suffix: str, mode: str, max_new: int) -> None:
    ids = engine.infill_prompt(prefix, suffix, mode, max_new)
    encode = engine.tokenizer.encode
    assert ids == fim.arrange(encode(prefix), encode(suffix), mode, engine.tokenizer.fim)  # nothing cut
    assert len(ids) + max_new <= engine.context_length


# Mostly whole short lines: the anchored window then grows line by line up to its budget.
typing = st.one_of(
    st.sampled_from(["x = 1\n", "    y\n", "\n", "):\n\t", "\r\n", "a = b\n" * 20, "x" * 300]),
    st.text(max_size=6),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    text=documents(),
    other=st.one_of(st.none(), st.just("same"), documents(max_lines=60)),
    where=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    max_new=st.integers(1, 256),
    cross_tokens=st.integers(0, 512),
    mode=st.sampled_from(fim.MODES),
    keystrokes=st.lists(typing, max_size=16),
)
def test_server_prompts_are_never_trimmed_by_the_engine(
    engine: model.Engine,
    text: str,
    other: str | None,
    where: tuple[float, float],
    max_new: int,
    cross_tokens: int,
    mode: str,
    keystrokes: list[str],
) -> None:
    # Built as the completer builds it (santa_lsp/completer.py), max_new capped at half the context.
    builder = PromptBuilder(TokenCounter(lambda text: len(engine.tokenizer.encode(text))), engine.context_length)
    max_new = min(max_new, engine.context_length // 2)
    entry = OpenDocument(Document.from_text("file:///a.py", "python", 1, text, "utf-16"))
    doc, others = entry.doc, [entry]
    if other is not None:  # "same": a copy, whose chunks are sure to be picked as cross-file context
        copy = Document.from_text("file:///b.py", "python", 1, text if other == "same" else other, "utf-16")
        others.append(OpenDocument(copy))
    line = int(where[0] * (len(doc.lines) - 1))
    cursor = Cursor(line, int(where[1] * len(doc.lines[line].rstrip("\r\n"))))
    for typed in ["", *keystrokes]:
        # The user types on: the anchored window is kept while it fits, and must still fit the engine.
        doc.edit((cursor.line, cursor.column), (cursor.line, cursor.column), typed)
        cursor = after(cursor, typed)
        prompt = builder.build(entry, cursor, max_new, others, cross_tokens)
        # What makes a trim impossible: the per-line counts bound the real lengths, and they fit.
        assert len(engine.tokenizer.encode(prompt.prefix)) <= prompt.context_tokens + prompt.prefix_tokens
        assert len(engine.tokenizer.encode(prompt.suffix)) <= prompt.suffix_tokens
        assert prompt.context_tokens + prompt.prefix_tokens + prompt.suffix_tokens <= builder.budget(max_new)
        check_untrimmed(engine, prompt.prefix, prompt.suffix, mode, max_new)


def test_a_trim_is_counted_and_logged(engine: model.Engine, caplog: pytest.LogCaptureFixture) -> None:
    prefix, suffix = "x = 1\n" * 400, "y = 2\n" * 10
    config = model.GenerationConfig(max_new_tokens=2, heal=False)  # every prefix token in the prompt
    with caplog.at_level(logging.INFO, logger="model.engine"):
        completion = engine.infill(prefix, suffix, config=config)
    full = len(engine.tokenizer.encode(prefix)) + len(engine.tokenizer.encode(suffix))
    assert completion.trimmed_tokens == full + fim.FIM_TOKENS - completion.prompt_tokens > 0
    lines = [r for r in caplog.records if r.name == "model.engine"]
    assert len(lines) == 1 and "cut" in lines[0].getMessage()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="model.engine"):
        assert engine.infill("x = 1\n", "y = 2\n", config=config).trimmed_tokens == 0
        assert engine.generate("x = 1\n", config).trimmed_tokens == 0
    assert not caplog.records
