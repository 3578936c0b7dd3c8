"""A packed, shuffled, deterministic stream of training contexts with an exact resume position.

Documents come from jsonl(.gz) shards (a `content` field per line, as the data pipeline
writes them). Every epoch visits the shards in a seeded order and the documents of each shard
in a seeded order; documents are tokenized lazily, followed by end-of-text, and packed back to
back into contexts of `seq_len + 1` tokens, a document running over into the next context.
FIM is then applied per document piece with a generator seeded by the context's index.

Packing alone keeps a long file's contexts together: a 500 kB source file fills hundreds of
consecutive contexts, so whole optimiser steps would see one file and the loss would chase it.
Contexts are therefore packed `shuffle_window` at a time and handed out in a seeded random
order (Megatron shuffles its samples globally for the same reason).

Everything the stream does is a function of (seed, position), so its state is a handful of
integers: where the current window began and how many of its contexts were taken. Resuming
repacks that window and yields exactly the contexts an uninterrupted run would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from model.tokenizer import Tokenizer
from train.fim import FimSpec, Piece, fit, transform_context
from train.shards import read_rows

IGNORE_INDEX = -100  # cross_entropy's default ignore_index: padding is not a prediction target

# Distinct first seed words keep the shuffles' random streams apart from the FIM draws'.
_SHARD_ORDER, _DOC_ORDER, _FIM_DRAWS, _WINDOW_ORDER = 0, 1, 2, 3


def read_documents(path: Path) -> list[str]:
    return [row["content"] for row in read_rows(path)]


def fim_spec(tokenizer: Tokenizer, rate: float, spm_rate: float, span_rate: float = 0.0) -> FimSpec | None:
    """The FIM settings with the tokenizer's own sentinel ids (None when FIM is off)."""
    if rate <= 0:
        return None
    fim = tokenizer.fim
    if fim.pad is None:
        raise ValueError("the tokenizer has FIM tokens but no <fim-pad>/<fim_pad> to pad contexts with")
    return FimSpec(fim.prefix, fim.middle, fim.suffix, fim.pad, rate, spm_rate, span_rate)


@dataclass
class StreamPosition:
    epoch: int = 0
    shard: int = 0  # index into this epoch's shard order
    doc: int = 0  # index into this shard's document order
    offset: int = 0  # tokens of that document (end-of-text included) already packed
    contexts: int = 0  # contexts produced so far: seeds the next context's FIM draws


@dataclass
class Batch:
    inputs: torch.Tensor  # [B, T] token ids
    labels: torch.Tensor  # [B, T] next tokens, IGNORE_INDEX where the context is padding

    @property
    def target_tokens(self) -> int:
        return int((self.labels != IGNORE_INDEX).sum())


class PackedStream:
    def __init__(
        self, shards: list[Path], tokenizer: Tokenizer, seq_len: int, *, seed: int = 0,
        fim_rate: float = 0.5, fim_spm_rate: float = 0.5, fim_span_rate: float = 0.0, shuffle_window: int = 1,
    ) -> None:  # fmt: skip
        if tokenizer.eos_id is None:
            raise ValueError("the tokenizer has no end-of-text token to separate documents")
        if shuffle_window < 1:
            raise ValueError(f"shuffle_window must be at least 1, not {shuffle_window}")
        self.shards, self.tokenizer, self.seed = shards, tokenizer, seed
        self.length = seq_len + 1  # inputs and next-token labels are two views of one context
        self.fim = fim_spec(tokenizer, fim_rate, fim_spm_rate, fim_span_rate)
        self.pad = self.fim.pad if self.fim else tokenizer.eos_id
        self.window = shuffle_window
        self.position = StreamPosition()  # the packer's: after every context packed so far
        self._window_start = StreamPosition()
        self._window: list[tuple[list[Piece], int]] = []  # packed contexts in hand-out order
        self._taken = 0
        self._loaded: tuple[tuple[int, int], list[str]] | None = None
        self._tokens: tuple[tuple[int, int, int], list[int]] | None = None

    # --- resume ------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, int]:
        return {**asdict(self._window_start), "taken": self._taken}

    def load_state_dict(self, state: dict[str, int]) -> None:
        state = dict(state)
        taken = state.pop("taken", 0)
        self.position = StreamPosition(**state)
        self._fill_window()
        self._taken = taken

    # --- batches -----------------------------------------------------------------------------

    def next_batch(self, batch_size: int, rank: int = 0, world: int = 1) -> Batch:
        """The next `batch_size * world` contexts are consumed; this rank gets its slice.

        Every rank reads the same stream, so all ranks agree on the position without talking.
        """
        rows = []
        for index in range(batch_size * world):
            pieces, context_index = self._next_context()
            if index // batch_size == rank:
                rows.append(self._materialize(pieces, context_index))
        return to_batch(rows)

    def __iter__(self) -> Iterator[tuple[list[int], int]]:
        """Contexts one by one as (ids of length seq_len + 1, number of real tokens)."""
        while True:
            yield self._materialize(*self._next_context())

    def _next_context(self) -> tuple[list[Piece], int]:
        if self._taken >= len(self._window):
            self._fill_window()
        self._taken += 1
        return self._window[self._taken - 1]

    def _fill_window(self) -> None:
        self._window_start = replace(self.position)
        packed = [self._next_pieces() for _ in range(self.window)]
        order = np.random.default_rng([self.seed, _WINDOW_ORDER, self._window_start.contexts]).permutation(self.window)
        self._window, self._taken = [packed[i] for i in order], 0

    def _materialize(self, pieces: list[Piece], context_index: int) -> tuple[list[int], int]:
        rng = np.random.default_rng([self.seed, _FIM_DRAWS, context_index])
        tok = self.tokenizer
        assert tok.eos_id is not None
        ids = transform_context(pieces, rng, self.fim, tok.encode, tok.decode, tok.eos_id)
        return fit(ids, self.length, self.pad)

    # --- packing -----------------------------------------------------------------------------

    def _next_pieces(self) -> tuple[list[Piece], int]:
        pieces: list[Piece] = []
        room = self.length
        while room > 0:
            text, ids = self._current_document()
            pos = self.position
            end = min(pos.offset + room, len(ids) + 1)  # +1: the end-of-text token
            whole = pos.offset == 0 and end == len(ids) + 1
            pieces.append(Piece(ids[pos.offset : end], text if whole else None, end == len(ids) + 1))
            room -= end - pos.offset
            pos.offset = end
            if end == len(ids) + 1:
                self._advance_document()
        index = self.position.contexts
        self.position.contexts += 1
        return pieces, index

    def _advance_document(self) -> None:
        pos = self.position
        pos.doc, pos.offset = pos.doc + 1, 0
        if pos.doc >= len(self._documents()):
            pos.shard, pos.doc = pos.shard + 1, 0
            if pos.shard >= len(self.shards):
                pos.epoch, pos.shard = pos.epoch + 1, 0

    def _current_document(self) -> tuple[str, list[int]]:
        docs = self._documents()
        for _ in range(len(self.shards)):
            if docs:
                break
            self._advance_document()  # an empty shard: move on
            docs = self._documents()
        if not docs:
            raise ValueError("the training shards hold no documents")
        pos = self.position
        key = (pos.epoch, pos.shard, pos.doc)
        if self._tokens is None or self._tokens[0] != key:
            self._tokens = key, self.tokenizer.encode(docs[pos.doc])
        return docs[pos.doc], self._tokens[1]

    def _documents(self) -> list[str]:
        """This epoch's current shard, its documents in this epoch's order."""
        pos = self.position
        key = (pos.epoch, pos.shard)
        if self._loaded is None or self._loaded[0] != key:
            order = np.random.default_rng([self.seed, _SHARD_ORDER, pos.epoch]).permutation(len(self.shards))
            shard = int(order[pos.shard])
            docs = read_documents(self.shards[shard])
            shuffle = np.random.default_rng([self.seed, _DOC_ORDER, pos.epoch, shard]).permutation(len(docs))
            self._loaded = key, [docs[i] for i in shuffle]
        return self._loaded[1]


def fixed_batches(stream: PackedStream, contexts: int, batch_size: int) -> list[Batch]:
    """Up to `contexts` contexts from the first epoch of `stream`, as batches (held-out sets)."""
    rows: list[tuple[list[int], int]] = []
    for row in stream:
        rows.append(row)
        if len(rows) >= contexts or stream.position.epoch > 0:
            break
    return [to_batch(rows[start : start + batch_size]) for start in range(0, len(rows), batch_size)]


def to_batch(rows: list[tuple[list[int], int]]) -> Batch:
    """Contexts of seq_len + 1 tokens -> inputs and labels; labels past the real tokens ignored."""
    ids = torch.tensor([row for row, _ in rows], dtype=torch.long)
    labels = ids[:, 1:].clone()
    for i, (_, valid) in enumerate(rows):
        labels[i, max(valid - 1, 0) :] = IGNORE_INDEX
    return Batch(ids[:, :-1], labels)
