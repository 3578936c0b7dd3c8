"""Perplexity of held-out documents, left to right (no FIM), every token predicted once.

Each document starts after an end-of-text token (as it would in a packed training context) and
is cut into windows of the model's context; window w+1 starts at the last token of window w,
so no token is predicted twice and none is skipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm import tqdm

from model import Engine


@dataclass
class Perplexity:
    perplexity: float
    loss: float  # mean negative log-likelihood per token (nats)
    tokens: int
    documents: int


def document_nll(engine: Engine, text: str) -> tuple[float, int]:
    """Summed NLL (nats) of the document's tokens and end-of-text, and how many there were."""
    eos = engine.tokenizer.eos_id
    assert eos is not None, "perplexity needs an end-of-text token"
    ids = [eos, *engine.tokenizer.encode(text), eos]
    window, total, count = engine.context_length, 0.0, 0
    for start in range(0, len(ids) - 1, window - 1):
        chunk = ids[start : start + window]
        logits = engine.logits(chunk[:-1])
        targets = torch.tensor(chunk[1:], device=logits.device)
        total += float(F.cross_entropy(logits, targets, reduction="sum"))
        count += len(chunk) - 1
    return total, count


def perplexity(engine: Engine, texts: Iterable[str], progress: bool = True) -> Perplexity:
    total, count, docs = 0.0, 0, 0
    for text in tqdm(list(texts), desc="perplexity", disable=not progress, unit="doc"):
        nll, n = document_nll(engine, text)
        total, count, docs = total + nll, count + n, docs + 1
    loss = total / max(count, 1)
    return Perplexity(math.exp(min(loss, 50.0)), loss, count, docs)
