"""Whether a suggestion would turn the cursor's line into code that cannot be valid.

Only cheap, local checks: Python's own parser on the completed statement, and string balance
for C-like languages. A check that cannot decide (a continuation line, a line the user has
already made invalid, a language without a check) never blames the suggestion.
"""

from __future__ import annotations

import ast
import codeop
import textwrap

from santa_lsp.situation import Situation

# Parse without compiling (`return` outside a function is fine in a snippet), and tell an
# unfinished statement (`def f(a,`) from an invalid one (`x = 1.0max(`).
_FLAGS = ast.PyCF_ONLY_AST | codeop.PyCF_DONT_IMPLY_DEDENT | codeop.PyCF_ALLOW_INCOMPLETE_INPUT
# A clause cannot stand alone: a harmless statement before it makes the snippet parse.
_CLAUSE_HEADS = {"elif": "if x:\n pass\n", "else": "if x:\n pass\n", "except": "try:\n pass\n",
                 "finally": "try:\n pass\n"}  # fmt: skip
C_LIKE = frozenset({"java", "javascript", "javascriptreact", "typescript", "typescriptreact", "c", "cpp",
                    "csharp", "go", "rust", "kotlin", "scala", "swift", "php", "dart"})  # fmt: skip
# LSP language ids by file suffix, for callers that have a path but no editor to say it.
SUFFIXES = {".py": "python", ".java": "java", ".js": "javascript", ".jsx": "javascriptreact",
            ".ts": "typescript", ".tsx": "typescriptreact", ".c": "c", ".h": "c", ".cpp": "cpp", ".cc": "cpp",
            ".hpp": "cpp", ".cs": "csharp", ".go": "go", ".rs": "rust", ".kt": "kotlin", ".scala": "scala",
            ".swift": "swift", ".php": "php", ".dart": "dart"}  # fmt: skip
# After these the line needs more code, so a comment cannot come next (`import  # ----`).
_NEEDS_OPERAND = ("import", "from", "return", "yield", "raise", "assert", "in", "not", "and", "or", "is",
                  "if", "elif", "while", "for", "with", "as", "await", "new", "const", "let", "var",
                  "throw", "typeof", "case")  # fmt: skip
_OPERATOR_ENDS = "=+-*/%<>&|^~!,.([{"
MAX_CUTS = 24  # word boundaries tried, from the end, before a broken suggestion is given up


def breaks_line(language_id: str, situation: Situation, text: str) -> bool:
    """Whether showing `text` at the cursor leaves the line (or block) broken."""
    if _comment_where_code_is_needed(situation.left, text) or _glued(text, situation.right):
        return True
    if language_id == "python":
        return _python_breaks(situation, text)
    if language_id in C_LIKE:
        return _unterminated_string(situation, text)
    return False


def valid_part(language_id: str, situation: Situation, text: str) -> str:
    """`text`, or its longest beginning that ends at a word boundary and leaves the line unbroken
    ("" if none does): a suggestion that goes wrong late still gives its good start."""
    if not breaks_line(language_id, situation, text):
        return text
    ends = [i for i in range(len(text) - 1, 0, -1) if not (is_word_char(text[i - 1]) and is_word_char(text[i]))]
    for end in ends[:MAX_CUTS]:
        part = text[:end].rstrip()
        if part.strip() and not breaks_line(language_id, situation, part):
            return part
    return ""


def _comment_where_code_is_needed(left: str, text: str) -> bool:
    code = left.strip()
    if not code or not text.lstrip().startswith(("#", "//")):
        return False
    last_word = code.split()[-1]
    return last_word in _NEEDS_OPERAND or code[-1] in _OPERATOR_ENDS


def _glued(text: str, right: str) -> bool:
    """A suggestion whose last word runs into the word right of the cursor (`1.0` + `max(`)."""
    return bool(text and right) and is_word_char(text[-1]) and is_word_char(right[0])


def is_word_char(char: str) -> bool:
    """A character of an identifier or number: where words run together, and where accept-word stops."""
    return char.isalnum() or char == "_"


def _python_breaks(situation: Situation, text: str) -> bool:
    if situation.open_brackets:  # a continuation line: the statement began further up
        return False
    completed = _python_error(situation.left + text + situation.right)
    if completed is None:
        return False
    if completed >= len(situation.left.lstrip()):
        return True  # the first error is in the suggestion or after it
    # An error inside what the user typed blames the suggestion only if the line without it
    # had no error there (an unterminated string is reported where the string starts).
    before = _python_error(situation.left + situation.right)
    return before is None or before > completed


def _python_error(source: str) -> int | None:
    """Index (in `source` without its indentation) of the first syntax error; None if the
    statement is valid or only unfinished."""
    code = textwrap.dedent(source)
    head = _CLAUSE_HEADS.get(code.split(":", 1)[0].split(" ", 1)[0].strip(), "")
    try:
        compile(head + code + "\n", "<suggestion>", "exec", _FLAGS)
    except SyntaxError as error:
        if error.msg == "incomplete input":
            return None
        return _index(code, (error.lineno or 1) - head.count("\n"), error.offset or 1)
    except (ValueError, OverflowError, MemoryError, RecursionError):
        return None  # NUL bytes, absurd nesting: nothing this check can judge
    return None


def _index(code: str, lineno: int, offset: int) -> int:
    lines = code.split("\n")
    lineno = min(max(lineno, 1), len(lines))
    return sum(len(line) + 1 for line in lines[: lineno - 1]) + offset - 1


def _unterminated_string(situation: Situation, text: str) -> bool:
    """A line the suggestion leaves inside a '...' or "..." string (C-like languages)."""
    if _open_quote(situation.left + situation.right):
        return False  # the user is in the middle of a string already
    lines = (situation.left + text + situation.right).split("\n")
    return any(_open_quote(line) for line in lines)


def _open_quote(line: str) -> bool:
    quote, escaped = "", False
    for i, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = bool(quote)
        elif quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif line.startswith("//", i):
            return False
    return bool(quote)
