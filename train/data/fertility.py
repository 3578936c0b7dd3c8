"""Optional tokenizer-fertility filter: drops files the tokenizer compresses badly.

Fertility here is characters per token; files under the per-language threshold (Python 2.5,
Java 2.9, JavaScript 2.6 in BigCode's recipe) are mostly data blobs or unusual encodings.
"""

from __future__ import annotations

from datatrove.data import Document
from tokenizers import Tokenizer

from train.data.config import FertilityFilterConfig
from train.data.steps import DocFilter


def chars_per_token(tokenizer: Tokenizer, text: str) -> float:
    tokens = len(tokenizer.encode(text, add_special_tokens=False).ids)
    return len(text) / tokens if tokens else float("inf")


class FertilityFilter(DocFilter):
    name = "fertility"

    def __init__(self, cfg: FertilityFilterConfig):
        super().__init__()
        if cfg.tokenizer_path is None:
            raise ValueError("FertilityFilter needs tokenizer_path")
        self.cfg = cfg
        self._tokenizer: Tokenizer | None = None

    def reason(self, doc: Document) -> str | None:
        threshold = self.cfg.min_chars_per_token.get(str(doc.metadata.get("lang")))
        if threshold is None:
            return None
        if self._tokenizer is None:  # loaded in the worker, not pickled across processes
            self._tokenizer = Tokenizer.from_file(str(self.cfg.tokenizer_path))
        return "fertility" if chars_per_token(self._tokenizer, doc.text) < threshold else None
