"""Each post-processing rule on its own, then the cursor situations that choose between them."""

from __future__ import annotations

import pytest

from santa_lsp.completer import _config
from santa_lsp.documents import Document
from santa_lsp.postprocess import Suggestion, block_ended, finish
from santa_lsp.prompt import Prompt
from santa_lsp.settings import Settings
from santa_lsp.situation import Situation, indent_after_enter, situation
from santa_lsp.window import Cursor

MARKERS = ["<|endoftext|>", "<fim-prefix>", "<fim-middle>", "<fim-suffix>"]


def at(text: str, line: int, column: int) -> Situation:
    return situation(Document.from_text("file:///t.py", "python", 1, text, "utf-16"), Cursor(line, column))


def run(raw: str, where: Situation, stops: tuple[str, ...] = (), reason: str = "length") -> Suggestion | None:
    return finish(raw, where, stops, MARKERS, reason)


BLOCK = at("def f(x):\n    \n\ndef g():\n    pass\n", 1, 4)  # an empty line after a block opener
MID_LINE = at("total = compute(\n", 0, 16)


def test_mode_empty_line_after_opener_is_multiline_mid_line_is_not() -> None:
    assert BLOCK.multiline and BLOCK.scope_indent == 4
    assert not at("x = foo + bar\n", 0, 4).multiline  # code right of the cursor: finish the line
    assert not at("x = foo\n", 0, 7).multiline  # end of a statement: finish the line
    assert at("if ok:\n", 0, 6).multiline  # right after a block opener


def test_stops_at_end_of_indentation_scope() -> None:
    raw = "y = x * 2\n    return y\n\ndef h():\n    pass"
    assert run(raw, BLOCK) == Suggestion("y = x * 2\n    return y", 0)


def test_a_block_has_ended_once_a_line_starts_left_of_the_scope() -> None:
    raw = "y = x * 2\n    return y\n\nd"
    assert block_ended(raw, BLOCK.scope_indent)
    for unfinished in ("y = x * 2", "y = x * 2\n    ret", "y = x * 2\n    return y\n\n", "y = x * 2\n  "):
        assert not block_ended(unfinished, BLOCK.scope_indent)
    # Whatever the model would have written next, the suggestion is already decided.
    for more in ("", "ef h():\n    pass", "<|endoftext|>", ")]}\n    x = 1"):
        assert run(raw + more, BLOCK) == Suggestion("y = x * 2\n    return y", 0)


def test_a_block_stops_generating_where_its_scope_ends_a_line_at_its_end() -> None:
    settings = Settings()
    block = _config(settings, Prompt("", "", BLOCK, 0, 0, 0), 64).gen
    assert block.stop_when is not None and block.stop_when("a = 1\nb") and not block.stop_when("a = 1\n    b")
    line = _config(settings, Prompt("", "", at("x = foo + bar\n", 0, 4), 0, 0, 0), 64).gen
    assert line.stop_when is None and "\n" in line.stop


def test_stops_at_special_tokens_written_out_and_broken_bytes() -> None:
    assert run("return x<|endoftext|>junk", BLOCK) == Suggestion("return x", 0)
    assert run("return x<fim-middle>junk", BLOCK) == Suggestion("return x", 0)
    assert run("return x\ufffd", BLOCK) == Suggestion("return x", 0)


def test_stops_at_configured_stop_sequence() -> None:
    assert run("return x  # STOP here", BLOCK, stops=("# STOP",)) == Suggestion("return x", 0)


def test_time_budget_keeps_only_full_lines() -> None:
    assert run("a = 1\n    b = 2\n    c = ", BLOCK, reason="time") == Suggestion("a = 1\n    b = 2", 0)
    assert run("a = 1", BLOCK, reason="time") is None  # no line was finished


def test_single_line_mode_finishes_the_line_only() -> None:
    where = at("value = \n", 0, 8)
    assert run("compute(1)\nprint(value)", where) == Suggestion("compute(1)", 0)


def test_drops_lines_that_repeat_the_following_lines() -> None:
    where = at("def f(x):\n    \n    return x\n", 1, 4)
    assert run("y = x\n    return x\n", where) == Suggestion("y = x", 0)
    assert run("return x", where) is None  # the whole suggestion is the next line again


def test_text_right_of_cursor_is_replaced_not_repeated() -> None:
    where = at("print()\n", 0, 6)  # the editor auto-closed the bracket
    assert run('"hi")', where) == Suggestion('"hi")', 1)
    assert run('"hi") + 1', where) == Suggestion('"hi")', 1)  # nothing after the closing bracket
    assert run(")", where) is None  # only what is already there


def test_brackets_stay_balanced() -> None:
    assert run("a, b))", MID_LINE) == Suggestion("a, b)", 0)
    assert run("a, b]", MID_LINE) == Suggestion("a, b", 0)  # "]" closes what was never opened
    assert run("')' + x)", MID_LINE) == Suggestion("')' + x)", 0)  # quoted brackets do not count


def test_no_empty_or_whitespace_items() -> None:
    assert run("", BLOCK) is None
    assert run("   \n  ", BLOCK) is None
    assert run("\n\n", MID_LINE) is None


@pytest.mark.parametrize(
    ("text", "indent"),
    [
        ("x = 1\n  y = 2\n", "  "),  # the line's own
        ("if x:\n", "    "),  # one level deeper after an opener; no indented line: four spaces
        ("x = [\n  1,\n]\nif x:\n", "  "),  # a level: the document's fewest leading spaces
        ("\tif x {\n", "\t\t"),  # a tab where the line is tab-indented
        ("def f(x):\n  if x:\n    return x\n", "  "),  # Python: one level shallower after a return
        ("for x in y:\n\tif x:\n\t\tbreak\n", "\t"),
        ("def f():\n    returned = 1\n", "    "),  # a name that starts like one is no return
    ],
)
def test_indent_after_enter(text: str, indent: str) -> None:
    lines = text.splitlines(keepends=True)
    assert indent_after_enter(lines, len(lines) - 1, "python") == indent


def test_only_python_is_dedented_after_a_return() -> None:
    lines = ["function f(x) {\n", "    return x\n"]
    assert indent_after_enter(lines, 1, "javascript") == "    "
