"""The checkpoint's own `tokenizers` tokenizer, with its FIM and end-of-text tokens discovered.

Both families are supported by reading the vocabulary: SantaCoder spells the FIM tokens
`<fim-prefix>`, StarCoder `<fim_prefix>`. Nothing here hard-codes an id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from tokenizers import Tokenizer as HFTokenizer

from model.errors import FimUnsupportedError, LoadError

_EOS_CANDIDATES = ("<|endoftext|>", "</s>", "<eos>")


@dataclass(frozen=True)
class FimTokens:
    prefix: int
    middle: int
    suffix: int
    pad: int | None


class Tokenizer:
    def __init__(self, tokenizer: HFTokenizer, eos_id: int | None, fim: FimTokens | None):
        self._tok = tokenizer
        self.eos_id = eos_id
        self._fim = fim
        self.vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
        # Every added special token ends a completion: EOS, FIM markers, file separators...
        self.special_ids = frozenset(
            token_id for token_id, added in tokenizer.get_added_tokens_decoder().items() if added.special
        ) | ({eos_id} if eos_id is not None else set())

    @property
    def has_fim(self) -> bool:
        return self._fim is not None

    @property
    def fim(self) -> FimTokens:
        if self._fim is None:
            raise FimUnsupportedError(
                "this checkpoint's tokenizer has no FIM tokens (<fim-prefix>/<fim_prefix> ...): "
                "it cannot fill in the middle; use left-to-right generation instead"
            )
        return self._fim

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(ids, skip_special_tokens=False)

    def id_to_token(self, token_id: int) -> str | None:
        return self._tok.id_to_token(token_id)

    @cached_property
    def line_break_ids(self) -> frozenset[int]:
        """Tokens whose text starts a new line (after spaces or tabs): "\\n", "\\n    return", " \\r\\n"."""
        texts = (self._tok.decode([i], skip_special_tokens=False) for i in range(self.vocab_size))
        return frozenset(i for i, text in enumerate(texts) if text.lstrip(" \t")[:1] in ("\n", "\r"))


def load_tokenizer(directory: Path) -> Tokenizer:
    path = directory / "tokenizer.json"
    if not path.is_file():
        raise LoadError(f"{path}: missing (the checkpoint must ship its tokenizer.json)")
    try:
        tokenizer = HFTokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on a bad file
        raise LoadError(f"{path}: not a valid tokenizers file ({exc})") from None
    eos_name = _declared_eos(directory)
    eos_id = tokenizer.token_to_id(eos_name) if eos_name else None
    if eos_id is None:
        eos_id = next((i for i in map(tokenizer.token_to_id, _EOS_CANDIDATES) if i is not None), None)
    return Tokenizer(tokenizer, eos_id, _find_fim(tokenizer))


def _find_fim(tokenizer: HFTokenizer) -> FimTokens | None:
    for sep in ("-", "_"):  # SantaCoder, then StarCoder spelling
        ids = [tokenizer.token_to_id(f"<fim{sep}{part}>") for part in ("prefix", "middle", "suffix")]
        if all(i is not None for i in ids):
            prefix, middle, suffix = ids
            return FimTokens(prefix, middle, suffix, tokenizer.token_to_id(f"<fim{sep}pad>"))
    return None


def _declared_eos(directory: Path) -> str | None:
    """The EOS token named by special_tokens_map.json or tokenizer_config.json, if any."""
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        path = directory / name
        if not path.is_file():
            continue
        try:
            eos = json.loads(path.read_text(encoding="utf-8")).get("eos_token")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
            raise LoadError(f"{path}: not a valid JSON object ({exc})") from None
        if isinstance(eos, dict):  # the AddedToken form {"content": ...}
            eos = eos.get("content")
        if isinstance(eos, str):
            return eos
    return None


class StreamDecoder:
    """The text of a growing list of token ids, decoded once per token.

    Byte-level BPE can split one character over several tokens: until its last byte arrives
    the text ends in the replacement character, which the caller holds back.
    """

    def __init__(self, tokenizer: Tokenizer):
        self._tokenizer = tokenizer
        self.ids: list[int] = []
        self.text = ""

    def push(self, token_id: int) -> str:
        """Add a token; the text of all of them."""
        self.ids.append(token_id)
        self.text = self._tokenizer.decode(self.ids)
        return self.text
