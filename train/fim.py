"""Fill-in-the-middle training transformation, as SantaCoder was trained (BigCode Megatron-LM).

Each document piece of a packed context is, with probability `rate`, cut at two character
positions drawn uniformly (so a cut can fall inside a token), the three parts are tokenized
separately and reordered in model.fim's PSM or SPM order, the middle last (what the model
learns to generate after the prompt's layout).

With probability `span_rate` a FIM document's middle is instead one an editor asks for (the rest
of a line, whole lines, a block's body: train/spans.py); at 0, the draws are exactly Megatron's.

SPM is chosen with probability `spm_rate`. The draws happen in Megatron's order (FIM or not,
the two cut points, then SPM or not), from a generator the caller seeds per context, so a
context's transformation depends only on its index and never on how many were made before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from model import fim
from train.spans import editor_span

Encode = Callable[[str], list[int]]


@dataclass(frozen=True)
class FimSpec:
    prefix: int
    middle: int
    suffix: int
    pad: int
    rate: float = 0.5
    spm_rate: float = 0.5
    span_rate: float = 0.0  # of FIM documents, the share cut at an editor's spans

    def __post_init__(self) -> None:
        for name in ("rate", "spm_rate", "span_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fim {name} must be within [0, 1], got {value}")


@dataclass(frozen=True)
class Piece:
    """Part of one document inside a context: its tokens and, when known exactly, its text.

    `text` is None when the piece is a token slice of a document cut by a context boundary:
    its text must then be recovered by decoding, as Megatron does.
    """

    ids: Sequence[int]
    text: str | None
    ends_document: bool


def cut_points(length: int, rng: np.random.Generator) -> tuple[int, int]:
    """Two sorted character positions in [0, length], each uniform (Megatron's randint)."""
    low, high = sorted(int(x) for x in rng.integers(0, length + 1, size=2))
    return low, high


@dataclass(frozen=True)
class FimDraw:
    low: int  # prefix = text[:low], middle = text[low:high], suffix = text[high:]
    high: int
    spm: bool


def draw(text: str, rng: np.random.Generator, spec: FimSpec) -> FimDraw | None:
    """The random choices for one document (None: no FIM)."""
    if rng.random() >= spec.rate:
        return None
    span = None
    if spec.span_rate > 0 and rng.random() < spec.span_rate:  # no draw at 0: Megatron's sequence
        span = editor_span(text, rng)
    low, high = span or cut_points(len(text), rng)
    return FimDraw(low, high, bool(rng.random() < spec.spm_rate))


def permute(text: str, rng: np.random.Generator, spec: FimSpec, encode: Encode) -> list[int] | None:
    """The FIM token sequence for one document, or None when the draw says to leave it as is."""
    choice = draw(text, rng, spec)
    if choice is None:
        return None
    low, high = choice.low, choice.high
    prefix, middle, suffix = encode(text[:low]), encode(text[low:high]), encode(text[high:])
    return [*fim.arrange(prefix, suffix, "spm" if choice.spm else "psm", spec), *middle]


def unpermute(ids: Sequence[int], spec: FimSpec, decode: Callable[[list[int]], str]) -> str:
    """The original text of a FIM sequence (or of a plain one): the inverse of `permute`.

    SPM does not mark where its prefix ends, and needs not: prefix and middle are adjacent in
    the document too. (PSM with an empty prefix reads the same as SPM, and decodes the same.)
    """
    ids = list(ids)
    if not ids or ids[0] != spec.prefix:
        return decode(ids)
    suffix_at, middle_at = ids.index(spec.suffix), ids.index(spec.middle)
    suffix, middle = ids[suffix_at + 1 : middle_at], ids[middle_at + 1 :]
    return decode(ids[1:suffix_at]) + decode(middle) + decode(suffix)


def transform_context(
    pieces: Sequence[Piece],
    rng: np.random.Generator,
    spec: FimSpec | None,
    encode: Encode,
    decode: Callable[[list[int]], str],
    eos: int,
) -> list[int]:
    """Apply FIM to every document piece of a context; end-of-document tokens stay in place."""
    out: list[int] = []
    for piece in pieces:
        ids = None
        if spec is not None and piece.ids:
            # A piece cut by a context boundary is decoded, as in Megatron: if the cut split a
            # multi-byte character, its stray bytes become U+FFFD, as they did there too.
            text = piece.text if piece.text is not None else decode(list(piece.ids))
            ids = permute(text, rng, spec, encode)
        out.extend(piece.ids if ids is None else ids)
        if piece.ends_document:
            out.append(eos)
    return out


def fit(ids: list[int], length: int, pad: int) -> tuple[list[int], int]:
    """Truncate or right-pad to `length`; also returns how many positions hold real tokens."""
    if len(ids) >= length:
        return ids[:length], length
    return ids + [pad] * (length - len(ids)), len(ids)
