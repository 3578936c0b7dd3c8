"""The cursor's situation: its line split at the cursor, what follows, and which brackets are open.

It decides between finishing the line and writing a block, and gives post-processing what
its rules compare the completion with.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from santa_lsp.documents import Document, strip_end
from santa_lsp.window import Cursor

OPENERS = (":", "{", "(", "[", "=>", "->", " do", " then", "begin")
PYTHON_BLOCK_END = re.compile(r"(return|pass|raise|break|continue)\b")
CLOSERS = ")]}\"'`;,"
PAIRS = {")": "(", "]": "[", "}": "{"}
OPENING = frozenset(PAIRS.values())
QUOTES = "\"'`"
FOLLOWING_LINES = 8
BRACKET_LINES = 30  # how far up an open bracket (a call spread over lines) is looked for


@dataclass(frozen=True)
class Situation:
    left: str  # the line's text left of the cursor
    right: str  # the line's text right of the cursor, without its line end
    following: tuple[str, ...]  # the next lines below the cursor (line ends stripped)
    multiline: bool
    scope_indent: int  # lines of a completion indented less than this leave the cursor's scope
    open_brackets: str  # opened above the cursor and not closed yet, innermost last


def indent_width(line: str) -> int:
    whitespace = line[: len(line) - len(line.lstrip(" \t"))]
    return len(whitespace.expandtabs(4))


def indent_after_enter(lines: list[str], line: int, language_id: str = "") -> str:
    """The indentation an editor puts on the new line when Enter is pressed at the end of line
    `line`: that line's own, one level deeper after a block opener, and in Python one level
    shallower after a statement that ends its block (VS Code's and Vim's Python indentation
    rules do that). A level: a tab where the line is tab-indented, else the fewest leading spaces
    of an indented line of the document."""
    text = strip_end(lines[line])
    own = text[: len(text) - len(text.lstrip(" \t"))]
    if text.rstrip().endswith(OPENERS):
        return own + _level(lines, own)
    if language_id == "python" and PYTHON_BLOCK_END.match(text.lstrip()):
        level = _level(lines, own)
        return own.removesuffix(level)
    return own


def _level(lines: list[str], own: str) -> str:
    if "\t" in own:
        return "\t"
    widths = [indent_width(other) for other in lines if other.strip() and other.startswith(" ")]
    return " " * min(widths, default=4)


def bracket_chars(text: str) -> Iterator[tuple[int, str]]:
    """(index, bracket) for every bracket of `text` outside a quoted string.

    A quote ends at its closing quote or at the end of the line: a completion may stop inside
    a string, and one unterminated quote must not hide the brackets of the following lines.
    """
    quote = ""
    for i, char in enumerate(text):
        if char == "\n":
            quote = ""
        elif quote:
            quote = "" if char == quote else quote
        elif char in QUOTES:
            quote = char
        elif char in OPENING or char in PAIRS:
            yield i, char


def open_brackets(text: str) -> str:
    """The brackets opened and not closed in `text`, innermost last (quoted text skipped)."""
    stack: list[str] = []
    for _, char in bracket_chars(text):
        if char in OPENING:
            stack.append(char)
        elif stack and stack[-1] == PAIRS[char]:
            stack.pop()
    return "".join(stack)


def _previous_code_line(doc: Document, line: int) -> str:
    for index in range(line - 1, max(-1, line - 50), -1):
        text = strip_end(doc.lines[index])
        if text.strip():
            return text
    return ""


def situation(doc: Document, cursor: Cursor) -> Situation:
    line = strip_end(doc.lines[cursor.line])
    left, right = line[: cursor.column], line[cursor.column :]
    following = doc.lines[cursor.line + 1 : cursor.line + 1 + FOLLOWING_LINES]
    above = "".join(doc.lines[max(0, cursor.line - BRACKET_LINES) : cursor.line])
    # Mid-line, finish the line; on an empty line, or right after a block opener, write a block.
    only_closers = all(char in CLOSERS or char.isspace() for char in right)
    ends_with_opener = left.rstrip().endswith(OPENERS)
    blank = not left.strip()
    if blank:
        previous = _previous_code_line(doc, cursor.line)
        after_opener = previous.rstrip().endswith(OPENERS)
        scope = max(indent_width(left), indent_width(previous) + after_opener)
    else:
        scope = indent_width(left) + ends_with_opener
    return Situation(
        left=left,
        right=right,
        following=tuple(strip_end(text) for text in following),
        multiline=only_closers and (blank or ends_with_opener),
        scope_indent=scope,
        open_brackets=open_brackets(above + left),
    )
