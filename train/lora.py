"""LoRA adapters (through peft) on the runtime's GPTBigCode, and merging them back.

Only the low-rank matrices train, so optimizer state is a few MB and a 1.1B model fits a
consumer GPU; merging adds B @ A * alpha / r into each base weight, giving a plain checkpoint
that the runtime loads with no trace of peft.
"""

from __future__ import annotations

import copy

from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn

from model.gpt_bigcode import GPTBigCode
from train.recipe import LoraSettings


def apply_lora(net: GPTBigCode, settings: LoraSettings) -> PeftModel:
    config = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=list(settings.targets),
        bias="none",
    )
    return get_peft_model(net, config)  # freezes everything but the adapters


def plain_network(net: nn.Module) -> GPTBigCode:
    """The network as a plain GPTBigCode: adapters merged into a copy, the training one untouched."""
    if isinstance(net, PeftModel):
        merged = copy.deepcopy(net).merge_and_unload()
        assert isinstance(merged, GPTBigCode)
        return merged
    assert isinstance(net, GPTBigCode)
    return net
