"""The fill-in-the-middle prompt: its token order and its budget, for the server, the engine and training.

Orders, as SantaCoder was trained (BigCode Megatron-LM); the middle follows in training and is
what the model generates at inference:

    PSM: <fim-prefix> PREFIX <fim-suffix> SUFFIX <fim-middle>
    SPM: <fim-prefix> <fim-suffix> SUFFIX <fim-middle> PREFIX

A prompt may take `prompt_budget` tokens besides its FIM tokens; when the text is longer, the
suffix gets `1 / SUFFIX_SHARE` of them and the prefix the rest. The server sizes its windows
with these numbers so that the engine's `fit_prefix_suffix` never has to cut anything: a cut
would move the prompt's start, which the server's window anchor exists to hold still.
This module holds no tensor code: the server imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

FIM_TOKENS = 3  # <fim-prefix>, <fim-suffix>, <fim-middle>
SUFFIX_SHARE = 4  # the suffix gets a quarter of a full budget: prefix:suffix = 3:1
MODES = ("spm", "psm")


class FimIds(Protocol):
    """The FIM token ids (model.tokenizer.FimTokens and train.fim.FimSpec both have them)."""

    @property
    def prefix(self) -> int: ...

    @property
    def suffix(self) -> int: ...

    @property
    def middle(self) -> int: ...


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown FIM mode {mode!r}: use 'spm' or 'psm'")


def prompt_budget(context_length: int, max_new_tokens: int) -> int:
    """Tokens of prefix and suffix text a prompt may have, leaving room for its FIM tokens and output."""
    return context_length - max_new_tokens - FIM_TOKENS


def suffix_budget(budget: int) -> int:
    """The suffix's share of a prompt budget when both sides are long."""
    return budget // SUFFIX_SHARE


def arrange(prefix: Sequence[int], suffix: Sequence[int], mode: str, ids: FimIds) -> list[int]:
    """The prompt ids in `mode`'s order (training appends the middle after them)."""
    check_mode(mode)
    if mode == "psm":
        return [ids.prefix, *prefix, ids.suffix, *suffix, ids.middle]
    return [ids.prefix, ids.suffix, *suffix, ids.middle, *prefix]


def fit_prefix_suffix(prefix: list[int], suffix: list[int], budget: int) -> tuple[list[int], list[int]]:
    """Cut prefix from the left and suffix from the right to fit `budget` tokens.

    The side near the cursor is kept. When both are long the suffix gets `suffix_budget`, as the
    code above the cursor says more about what comes next; a short side leaves its share to the other.
    """
    if len(prefix) + len(suffix) <= budget:
        return prefix, suffix
    suffix_room = max(budget - len(prefix), suffix_budget(budget))
    suffix = suffix[: min(len(suffix), suffix_room)]
    prefix_room = budget - len(suffix)
    return prefix[len(prefix) - prefix_room :], suffix


def on_blank_line(prefix: str, suffix: str) -> bool:
    """Whether the cursor stands on an empty or whitespace-only line.

    There an empty middle is never what the user asks for: the engine then requires code
    (GenerationConfig.require_code).
    """
    before, after = prefix.rpartition("\n")[2], suffix.partition("\n")[0]
    return not before.strip() and not after.strip()
