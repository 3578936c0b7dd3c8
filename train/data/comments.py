"""Comment-to-code ratio filter (SantaCoder kept 0.01 < comment chars / file chars < 0.8).

Python comments come from the `tokenize` module (COMMENT tokens plus docstrings); other
languages, and Python files that `tokenize` rejects (Python 2, broken files), use Pygments.
"""

from __future__ import annotations

import io
import tokenize
from functools import cache

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.token import Comment, String
from pygments.util import ClassNotFound

from train.data.config import CommentFilterConfig

# Tokens after which a string literal starts a new statement: such a bare string is a docstring
# (or a string used as a block comment), i.e. documentation rather than code.
_STATEMENT_START = {tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}


def python_comment_chars(text: str) -> int:
    """Characters in comments and docstrings; raises tokenize.TokenError/SyntaxError on bad input."""
    total = 0
    previous = tokenize.ENCODING
    pending_string = 0  # a string that opened a statement; counted once the statement ends
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            total += len(token.string)
        elif token.type == tokenize.STRING and previous in _STATEMENT_START:
            pending_string = len(token.string)
        elif token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            total += pending_string
            pending_string = 0
        elif token.type not in (tokenize.NL, tokenize.COMMENT):
            pending_string = 0  # the string was part of an expression, e.g. "a" + b
        if token.type not in (tokenize.NL, tokenize.COMMENT):
            previous = token.type
    return total


@cache
def _lexer(language: str) -> Lexer | None:
    try:
        return get_lexer_by_name(language)
    except ClassNotFound:
        return None


def lexer_comment_chars(text: str, language: str) -> int | None:
    """Comment characters according to Pygments (None when no lexer knows the language)."""
    lexer = _lexer(language)
    if lexer is None:
        return None
    documentation = (Comment, String.Doc)
    return sum(
        len(value) for token_type, value in lexer.get_tokens(text) if any(token_type in kind for kind in documentation)
    )


def comment_chars(text: str, language: str) -> int | None:
    if language == "python":
        try:
            return python_comment_chars(text)
        except (tokenize.TokenError, SyntaxError):
            pass
    return lexer_comment_chars(text, language)


def comment_ratio(text: str, language: str) -> float | None:
    chars = comment_chars(text, language)
    return None if chars is None or not text else chars / len(text)


class CommentRatioFilter(BaseFilter):
    name = "comment ratio"

    def __init__(self, cfg: CommentFilterConfig):
        super().__init__()
        self.cfg = cfg

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        ratio = comment_ratio(doc.text, str(doc.metadata.get("lang", "")))
        if ratio is None:
            return True  # no lexer for this language: nothing to judge by
        if ratio <= self.cfg.min_ratio:
            return False, "too_few_comments"
        if ratio >= self.cfg.max_ratio:
            return False, "too_many_comments"
        return True
