"""Token healing: the prompt's last token is given back to the model to choose again.

A prompt cut at the cursor often ends inside what training always saw as one token. The user
typed `ret`; the model saw ` return` thousands of times and ` ret` then `urn` almost never. After
auto-indentation the prompt ends in a lone space token, where training had ` return`. So the
last token of the prefix is taken off the prompt and generation must begin by writing its text
again: the first tokens are limited to those that agree with it (start with it, or are a
start of it), and the text returned begins after it.
"""

from __future__ import annotations

from collections import OrderedDict

import torch

from model.tokenizer import Tokenizer

MASKS_KEPT = 512  # distinct given-back texts whose masks stay cached (a few kB each)


def give_back(ids: list[int], tokenizer: Tokenizer) -> tuple[list[int], str]:
    """The prefix without its last token, and that token's text ("" when there is none to heal).

    A special token is never given back, nor one that is only part of a character.
    """
    if len(ids) < 2 or ids[-1] in tokenizer.special_ids:
        return ids, ""
    text = tokenizer.decode(ids[-1:])
    if not text or "\ufffd" in text:
        return ids, ""
    return ids[:-1], text


class Agreement:
    """Which tokens agree with a text still to be written: masks cached per text."""

    def __init__(self, tokenizer: Tokenizer, rows: int, device: torch.device) -> None:
        self._texts = [
            tokenizer.decode([i]) if i not in tokenizer.special_ids else "" for i in range(tokenizer.vocab_size)
        ]
        self._rows, self._device = rows, device
        self._masks: OrderedDict[tuple[str, bool], torch.Tensor] = OrderedDict()

    def allowed(self, pending: str, code_next: bool = False) -> torch.Tensor:
        """True for each token that starts with `pending` or is a (non-empty) start of it.

        `code_next`: what a token writes past `pending` may not start a new line (the cursor's
        line must get code: GenerationConfig.require_code).
        """
        key = (pending, code_next)
        mask = self._masks.get(key)
        if mask is None:
            agree = [i for i, t in enumerate(self._texts) if t and _agrees(t, pending, code_next)]
            mask = torch.zeros(self._rows, dtype=torch.bool)
            mask[agree] = True
            mask = self._masks[key] = mask.to(self._device)
            if len(self._masks) > MASKS_KEPT:
                self._masks.popitem(last=False)
        self._masks.move_to_end(key)
        return mask


def _agrees(token: str, pending: str, code_next: bool) -> bool:
    if pending.startswith(token):
        return True
    past = token[len(pending) :] if token.startswith(pending) else None
    return past is not None and not (code_next and past.lstrip(" \t")[:1] in ("\n", "\r"))
