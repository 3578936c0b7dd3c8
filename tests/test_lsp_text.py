"""Documents (incremental edits, UTF-16 positions), token windows with a stable start,
cross-file chunks, typed-ahead lookups and settings parsing: the server's pure parts."""

from __future__ import annotations

import logging

import pytest

from santa_lsp import crossfile
from santa_lsp.documents import Document, PositionError, to_index, to_units
from santa_lsp.postprocess import Suggestion
from santa_lsp.prompt import PromptBuilder
from santa_lsp.settings import Settings
from santa_lsp.typed_ahead import Shown, lookup
from santa_lsp.window import Cursor, TokenCounter, prefix_window
from santa_lsp.workspace import OpenDocument


def words(text: str) -> list[int]:
    """A stand-in tokenizer: one token per word or punctuation run, enough for budgets."""
    return [0] * max(1, len(text.split()))


def doc_of(text: str) -> Document:
    return Document.from_text("file:///a.py", "python", 1, text, "utf-16")


def test_utf16_positions_count_astral_characters_twice(caplog: pytest.LogCaptureFixture) -> None:
    line = "a😀b"
    assert [to_index(line, units) for units in (0, 1, 3, 4, 99)] == [0, 1, 2, 3, 3]
    assert to_units(line, 3) == 4
    with caplog.at_level(logging.WARNING):
        assert to_index(line, 2) == 1  # inside the surrogate pair: snapped to the emoji's start
    assert "splits the character" in caplog.text
    assert to_index(line, 2, "utf-32") == 2


def test_incremental_edits_touch_only_their_lines() -> None:
    doc = doc_of("one\ntwo😀x\r\nthree")
    doc.edit((1, 5), (1, 5), "Y")  # after the emoji (3 UTF-16 units + 2)
    assert doc.lines == ["one\n", "two😀Yx\r\n", "three"]
    doc.edit((0, 3), (1, 0), "")  # join two lines
    assert doc.lines == ["onetwo😀Yx\r\n", "three"]
    doc.edit((1, 5), (1, 5), "\nfour")
    assert doc.text == "onetwo😀Yx\r\nthree\nfour"
    with pytest.raises(PositionError):
        doc.index(7, 0)


def test_prefix_window_start_stays_put_while_typing_then_slides_with_slack() -> None:
    lines = [f"line number {i}\n" for i in range(100)]
    count = TokenCounter(lambda text: len(words(text)))
    cursor = Cursor(99, 0)
    _, used, anchor = prefix_window(lines, cursor, 60, None, count)
    assert used <= 60 * 3 // 4  # room left for the lines still to come
    for typed in range(1, 12):  # the user types on the cursor's line: the start never moves
        lines[99] = "x " * typed
        _, _, again = prefix_window(lines, Cursor(99, len(lines[99])), 60, anchor, count)
        assert again == anchor
    lines[99] = "x " * 40  # now the window must move, and it moves by a good step at once
    _, used, moved = prefix_window(lines, Cursor(99, len(lines[99])), 60, anchor, count)
    assert moved > anchor and used <= 60


def test_prompt_is_cache_stable_and_starts_with_cross_file_context() -> None:
    builder = PromptBuilder(TokenCounter(lambda text: len(words(text))), context_length=200)
    other = OpenDocument(
        Document.from_text("file:///b.py", "python", 1, "def helper_total(items):\n    return 0\n", "utf-16")
    )
    unrelated = OpenDocument(Document.from_text("file:///c.js", "javascript", 1, "helper_total()\n", "utf-16"))
    entry = OpenDocument(doc_of("".join(f"value_{i} = helper_total(items)\n" for i in range(60)) + "\n"))
    first = builder.build(entry, Cursor(60, 0), 16, [other, unrelated, entry], cross_tokens=40)
    assert first.prefix.startswith("def helper_total(items):")  # context first, same language only
    entry.doc.edit((60, 0), (60, 0), "res")
    second = builder.build(entry, Cursor(60, 3), 16, [other, unrelated, entry], cross_tokens=40)
    assert second.prefix == first.prefix + "res"  # one keystroke appends: the start is unchanged
    assert second.suffix == first.suffix


def test_cross_file_picks_similar_chunks_within_budget() -> None:
    chunks = [
        crossfile.Chunk("def parse_header(raw):\n", crossfile.identifiers("def parse_header raw")),
        crossfile.Chunk("class Unrelated:\n", crossfile.identifiers("class Unrelated")),
    ]
    text, used = crossfile.pick("header = parse_header(raw)", chunks, 10, lambda t: len(words(t)))
    assert text == "def parse_header(raw):\n" and used == 2
    assert crossfile.pick("header = parse_header(raw)", chunks, 1, lambda t: len(words(t))) == ("", 0)


def test_typed_ahead_serves_the_rest_of_the_suggestion() -> None:
    shown = [Shown(3, "x = ", ")", Suggestion("compute(a)", 1))]
    assert lookup(shown, 3, "x = comp", ")") == [Suggestion("ute(a)", 1)]
    assert lookup(shown, 3, "x = cool", ")") == []  # typed something else
    assert lookup(shown, 4, "x = comp", ")") == []  # another line
    assert lookup(shown, 3, "x = compute(a", ")") == []  # only the existing ")" is left
    assert lookup([], 3, "x = comp", ")") == []  # nothing shown in this document yet


def test_typed_ahead_runs_over_the_line_breaks_of_the_suggestion() -> None:
    """Accepting a suggestion line by line (Neovim 0.12 asks again after each part) keeps its rest."""
    shown = [Shown(1, "    x = ", ")", Suggestion("f(a\n    b\n    c", 0))]
    lines = ["def g():\n", "    x = f(a\n", "    b\n", "    )"]
    assert lookup(shown, 2, "    b", "", lines=lines) == []  # the ")" right of the cursor moved down
    lines[2:] = ["    )"]
    assert lookup(shown, 2, "", ")", lines=lines) == [Suggestion("    b\n    c", 0)]
    assert lookup(shown, 2, "    ", ")", lines=lines) == [Suggestion("b\n    c", 0)]
    assert lookup(shown, 2, "    ", ")", lines=["def g():\r\n", "    x = f(a\r\n", "    )"]) == [
        Suggestion("b\n    c", 0)
    ]
    assert lookup(shown, 2, "  ", ")", lines=["def g():\n", "    x = g(a\n", "  )"]) == []  # not what it said
    assert lookup(shown, 0, "    ", ")", lines=lines) == []  # above the suggestion
    assert lookup(shown, 2, "    ", ")") == []  # the lines between are not known


def test_typed_ahead_keeps_every_candidate_the_typing_agrees_with_in_order() -> None:
    texts = ("compute(a)", "count(b)", "compile(c)")
    shown = [Shown(3, "x = ", "", Suggestion(text, 0, place)) for place, text in enumerate(texts)]
    rests = [Suggestion(text, 0, place) for place, text in enumerate(("mpute(a)", "unt(b)", "mpile(c)"))]
    assert lookup(shown, 3, "x = co", "") == rests
    # Each rest keeps its candidate's place, for the acceptance statistics.
    assert lookup(shown, 3, "x = comp", "") == [Suggestion("ute(a)", 0, 0), Suggestion("ile(c)", 0, 2)]


def test_settings_accept_flat_or_nested_and_report_bad_values() -> None:
    settings, problems = Settings().update({"santaLsp": {"maxNewTokens": 12, "fimMode": "xyz", "bogus": 1}})
    assert settings == Settings(maxNewTokens=12)  # the bad values kept the old ones
    assert problems == ["fimMode must be one of spm, psm, got 'xyz'; keeping 'spm'", "unknown setting 'bogus' ignored"]
    assert Settings().update({"stop": ["\n\n"], "enabled": "yes"}) == (
        Settings(stop=("\n\n",)),
        ["enabled must be true or false, got 'yes'; keeping True"],
    )
    before = Settings(timeBudgetMs=300)
    for bad in (True, -1, 2.5, "1500", None):  # a bool is no number, and a count is whole
        updated, [problem] = before.update({"timeBudgetMs": bad})
        assert updated == before and problem.startswith("timeBudgetMs must be an integer of at least 0"), bad
    assert Settings().update({"stop": "\n"})[1] == ["stop must be a list of strings, got '\\n'; keeping ()"]
    assert Settings().update({"model": None, "temperature": 1}) == (Settings(temperature=1.0), [])
    assert Settings().update(["maxNewTokens"]) == (Settings(), ["settings must be an object, got list"])
    assert Settings().update({"model": "x"})[0].model_changed(Settings())
