"""The gates on what is shown: loops stopped while generating, the confidence cut, the syntax
check, and the completion item's range. Each rule is tested on the failing text quoted in the
issue that asked for it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from lsprotocol import types
from pytest_lsp import LanguageClient

import model
from model.repetition import loop_start
from santa_lsp.postprocess import Suggestion, confident_part, finish
from santa_lsp.settings import Settings
from santa_lsp.situation import Situation
from santa_lsp.syntax import breaks_line, valid_part
from santa_lsp.typed_ahead import Shown, lookup
from tests.lsp_support import URI, inline, metrics, open_doc, start
from tests.tiny import make_model


def situation(left: str, right: str = "", multiline: bool = False, brackets: str = "") -> Situation:
    return Situation(left, right, (), multiline, len(left) - len(left.lstrip()), brackets)


# --- repetition --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> model.Engine:
    if model.default_model() is None:
        pytest.skip("the shipped model is not installed")
    return model.load(model.DEFAULT_MODEL)


def loop_in(engine: model.Engine, text: str) -> int | None:
    """Where loop_start finds a loop in `text` fed token by token (the first found)."""
    ids = engine.tokenizer.encode(text)
    ends = [len(engine.tokenizer.decode(ids[: i + 1])) for i in range(len(ids))]
    for n in range(1, len(ids) + 1):
        found = loop_start(ids[:n], ends[:n], text[: ends[n - 1]])
        if found is not None:
            return found
    return None


@pytest.mark.parametrize(
    ("text", "kept"),
    # Where the unit starts follows the tokens: `, pat` (or `.0+1`, `bin/`) is what repeats.
    [("    name, pat, pat, pat, pat, pat", "    name"), ("x = 0.0+1.0+1.0+1.0+1.0+1.0", "x = 0"),
     ('path = "/bin/bin/bin/bin/bin/', 'path = "/'), ("a = 1\nself.x = x\nself.x = x\n", "a = 1\n")],
)  # fmt: skip
def test_the_loops_quoted_in_the_issue_are_found_where_they_begin(shipped: model.Engine, text: str, kept: str) -> None:
    start = loop_in(shipped, text)
    assert start is not None and text[:start] == kept


@pytest.mark.parametrize(
    "text", ["return [a, b, c]", "x = y = z = 0", "def f(a, b, c):\n    return a\n", "}\n}\n", "# ---------------"]
)
def test_ordinary_code_is_not_a_loop(shipped: model.Engine, text: str) -> None:
    assert loop_in(shipped, text) is None


def test_generation_stops_where_a_loop_begins(tmp_path: Path) -> None:
    """A real tiny network made to write one token forever: the engine stops at its third copy."""
    directory = make_model(tmp_path / "m")
    engine = model.load(directory)
    texts = {token: engine.tokenizer.decode([token]) for token in range(engine.tokenizer.vocab_size)}
    word = max((token for token, text in texts.items() if text.isalpha()), key=lambda token: len(texts[token]))
    with torch.no_grad():  # the final norm's output is that token's embedding, whatever the input
        ln_f = engine.net.transformer.ln_f
        ln_f.weight.zero_()
        ln_f.bias.copy_(engine.net.transformer.wte.weight[word] * 10)
    endless = engine.generate("def f(a", model.GenerationConfig(max_new_tokens=12))
    assert endless.finish_reason == "length" and endless.text == texts[word] * 12
    stopped = engine.generate("def f(a", model.GenerationConfig(max_new_tokens=12, stop_on_repetition=True))
    assert stopped.finish_reason == "repetition" and stopped.text == ""
    assert len(stopped.token_ids) == 3  # it stopped at the loop, not at the token limit
    assert len(endless.token_logprobs) == len(endless.token_ends) == 12
    assert endless.token_ends[:2] == [len(texts[word]), 2 * len(texts[word])]
    assert all(logprob <= 0 for logprob in endless.token_logprobs)


def test_what_came_before_a_loop_is_shown_only_where_it_stands_alone() -> None:
    # The engine ends the text where the loop began; the syntax check keeps the part that parses.
    block = situation("", multiline=True)
    before_loop = finish("x = 1\ny = 2\nz = ", block, (), [], "repetition")
    assert before_loop == Suggestion("x = 1\ny = 2\nz =", 0)
    assert valid_part("python", block, before_loop.text) == "x = 1\ny = 2\nz"  # `z =` does not parse, `z` does
    assert valid_part("python", situation("    names = ["), "name,") == "name,"  # an open list: unfinished, fine
    assert valid_part("python", situation("    x = "), "'") == ""  # nothing stands alone


def test_a_broken_suggestion_keeps_its_longest_start_that_parses() -> None:
    assert valid_part("python", situation("    label = "), "f(x) + 'unfinished") == "f(x)"
    assert valid_part("python", situation("    maxc = ", "max(r, g, b)"), "1.0") == ""
    assert valid_part("python", situation("    total = "), "price * qty") == "price * qty"  # unbroken: as is


# --- confidence ----------------------------------------------------------------------------------


def test_the_confidence_gate_drops_an_unsure_start_and_cuts_unsure_later_lines() -> None:
    line = Suggestion("total = price * qty", 0)
    ends = [5, 7, 13, 15, 19]  # "total", " =", " price", " *", " qty"
    logprobs = [math.log(p) for p in (0.9, 0.8, 0.5, 0.05, 0.9)]
    assert confident_part(line, logprobs, ends, 0.0) == line  # 0 turns it off
    assert confident_part(line, logprobs, ends, 0.1) == line  # the first line stays whole
    assert confident_part(line, logprobs, ends, 0.95) is None  # unsure of its first token
    block = Suggestion("for x in xs:\n    total += x\n    print(total)", 0)
    ends = [3, 5, 8, 11, 12, 17, 22, 25, 27, 32, 37, 44]  # ..., "\n    ", "print", "(total)"
    sure = [math.log(0.9)] * len(ends)
    assert confident_part(block, sure, ends, 0.5) == block
    for unsure in (9, 10, 11):  # the line end before `print`, `print`, `(total)`
        logprobs = [math.log(0.05) if i == unsure else p for i, p in enumerate(sure)]
        assert confident_part(block, logprobs, ends, 0.1) == Suggestion("for x in xs:\n    total += x", 0)
    on_first_line = [math.log(0.05) if i == 4 else p for i, p in enumerate(sure)]
    assert confident_part(block, on_first_line, ends, 0.1) == block


def test_a_suggestion_that_cannot_save_a_keystroke_is_not_shown() -> None:
    assert finish(")", situation("    f(x", brackets="("), (), [], "eos") is None  # accepting it costs what typing does
    assert finish("x)", situation("    f(", brackets="("), (), [], "eos") == Suggestion("x)", 0)


def test_typed_ahead_shows_the_rest_only_if_the_model_was_sure_where_it_starts() -> None:
    suggestion = Suggestion("total = price * qty", 0)
    logprobs = tuple(math.log(p) for p in (0.9, 0.8, 0.5, 0.05, 0.9))
    shown = [Shown(1, "    ", "", suggestion, logprobs, (5, 7, 13, 15, 19))]
    assert lookup(shown, 1, "    total", "", min_prob=0.3) == [Suggestion(" = price * qty", 0)]
    assert lookup(shown, 1, "    total = price", "", min_prob=0.3) == []  # " *" had 5%
    assert lookup(shown, 1, "    total = price", "", min_prob=0.0) == [Suggestion(" * qty", 0)]
    assert lookup(shown, 1, "    total = price * qt", "", min_prob=0.0) == []  # one character left


# --- syntax --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "left", "text", "right"),
    [("python", "    maxc = ", "1.0", "max(r, g, b)"), ("javascript", "  maxc = ", "1.0", "Math.max(r, g, b);"),
     ("python", "import ", " # ----------------------------", ""), ("javascript", "import ", "// ------", ""),
     ("python", "    label = ", "'unfinished", ""), ("java", '    String s = ', '"unfinished', ""),
     ("python", "    ", "for i in range(n):\n        total += i)", ""), ("python", "    x = ", "1 +* 2", "")],
)  # fmt: skip
def test_suggestions_that_break_the_line_are_caught(language: str, left: str, text: str, right: str) -> None:
    assert breaks_line(language, situation(left, right), text)


@pytest.mark.parametrize(
    ("language", "left", "text", "right", "brackets"),
    [("python", "    maxc = ", "max(r, g, b)", "", ""), ("python", "import ", "os  # the usual", "", ""),
     ("python", "    x = foo(", "a, b", ")", ""), ("python", "    else", ":", "", ""),
     ("python", "    ", "for i in range(n):\n        total += i\n    return total", "", ""),
     ("python", "        ", "b)", "", "("),  # a continuation line: not judged
     ("python", "    This docstring ", "goes on", "", ""),  # the user's text is not code: not judged
     ("java", '    String s = "', "done", '";', ""), ("java", "    return x; ", "// don't", "", "")],
)  # fmt: skip
def test_valid_or_unjudgeable_suggestions_pass(language: str, left: str, text: str, right: str, brackets: str) -> None:
    assert not breaks_line(language, situation(left, right, brackets=brackets), text)


def test_gate_settings_are_checked() -> None:
    assert Settings().update({"minTokenProb": 0.2}) == (Settings(minTokenProb=0.2), [])
    assert Settings().update({"minTokenProb": 1.5})[0].minTokenProb == Settings.minTokenProb
    assert Settings().update({"syntaxCheck": "no"})[0].syntaxCheck is True


# --- through the real server -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_server_cuts_what_its_model_is_unsure_of(client: LanguageClient, tiny_model: Path) -> None:
    # The tiny random model is never 99.9% sure of a token: every suggestion is dropped, counted.
    await start(client, tiny_model, minTokenProb=0.999)
    open_doc(client, "def add(a, b):\n    \n")
    assert not (await inline(client, 1, 4)).items
    counts = await metrics(client)
    assert counts["modelCalls"] == 1 and counts["unsureDropped"] == 1
    assert {"repetitionStops", "syntaxCut", "trimmedPrompts"} <= set(counts)


@pytest.mark.asyncio
async def test_the_completion_item_replaces_the_word_being_typed(client: LanguageClient, tiny_model: Path) -> None:
    await start(client, tiny_model)
    open_doc(client, "def add(a, b):\n    total = ad\n")
    suggestion = (await inline(client, 1, 14)).items[0].insert_text
    params = types.CompletionParams(types.TextDocumentIdentifier(URI), types.Position(1, 14))
    result = await client.text_document_completion_async(params)
    assert isinstance(result, types.CompletionList)
    [item] = result.items
    assert item.text_edit.range.start == types.Position(1, 12) and item.text_edit.range.end == types.Position(1, 14)
    assert item.text_edit.new_text == item.filter_text == "ad" + suggestion  # accepting it writes "ad" once
