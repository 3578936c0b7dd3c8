"""Optional tokenizer-fertility filter: drops files the tokenizer compresses badly.

Fertility here is characters per token; files under the per-language threshold (Python 2.5,
Java 2.9, JavaScript 2.6 in BigCode's recipe) are mostly data blobs or unusual encodings.
"""

from __future__ import annotations

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from tokenizers import Tokenizer

from train.data.config import FertilityFilterConfig


def chars_per_token(tokenizer: Tokenizer, text: str) -> float:
    tokens = len(tokenizer.encode(text, add_special_tokens=False).ids)
    return len(text) / tokens if tokens else float("inf")


class FertilityFilter(BaseFilter):
    name = "fertility"

    def __init__(self, cfg: FertilityFilterConfig):
        super().__init__()
        if cfg.tokenizer_path is None:
            raise ValueError("FertilityFilter needs tokenizer_path")
        self.cfg = cfg
        self._tokenizer: Tokenizer | None = None

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        threshold = self.cfg.min_chars_per_token.get(str(doc.metadata.get("lang")))
        if threshold is None:
            return True
        if self._tokenizer is None:  # loaded in the worker, not pickled across processes
            self._tokenizer = Tokenizer.from_file(str(self.cfg.tokenizer_path))
        return chars_per_token(self._tokenizer, doc.text) >= threshold or (False, "fertility")
