"""On a blank line the middle may not end before it holds code (GenerationConfig.require_code)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

import model
from model import GenerationConfig
from model.fim import on_blank_line
from tests.tiny import make_model

# The cursor on an empty line between code, and on a line that already holds code.
BLANK = ("def add(a, b):\n    ", "\n\nprint(add(1, 2))\n")
AFTER_CODE = ("def add(a, b):\n    return", "\n\nprint(add(1, 2))\n")


@pytest.fixture(scope="module")
def eager_to_end(tmp_path_factory: pytest.TempPathFactory) -> model.Engine:
    """A real network whose every position prefers the end of text, then a line break.

    With the final layer norm's weight at zero its output is its bias `v` everywhere, so the
    (tied) logits are `wte @ v`: `v` made of the end-of-text and newline embeddings ranks them first.
    """
    directory = make_model(tmp_path_factory.mktemp("eager"))
    weights_file = directory / "model.safetensors"
    weights = load_file(weights_file)
    engine = model.load(directory)
    wte = weights["transformer.wte.weight"].float()
    newline = engine.tokenizer.encode("\n")[0]
    eos = engine.tokenizer.eos_id
    assert eos is not None
    weights["transformer.ln_f.weight"] = torch.zeros_like(weights["transformer.ln_f.weight"])
    weights["transformer.ln_f.bias"] = (3 * wte[eos] + 2 * wte[newline]).to(weights["transformer.ln_f.bias"].dtype)
    save_file(weights, weights_file, metadata={"format": "pt"})
    return model.load(directory)


def greedy(**kw: object) -> GenerationConfig:
    # Token healing off: its own tests (test_healing.py) cover how the two work together.
    return GenerationConfig(max_new_tokens=6, use_prefix_cache=False, heal=False, **kw)  # type: ignore[arg-type]


def test_blank_line_is_found_from_both_sides_of_the_cursor() -> None:
    assert on_blank_line(*BLANK)
    assert on_blank_line("x = 1\n", "")
    assert on_blank_line("", "")
    assert not on_blank_line(*AFTER_CODE)
    assert not on_blank_line("x = 1\n    ", "y\n")


def test_line_break_tokens_are_those_that_start_a_new_line(eager_to_end: model.Engine) -> None:
    tok = eager_to_end.tokenizer
    breaks = tok.line_break_ids
    assert tok.encode("\n")[0] in breaks
    assert all(tok.decode([i]).lstrip(" \t")[:1] in ("\n", "\r") for i in breaks)
    assert not any(i in breaks for i in tok.encode("return a"))


def test_without_the_rule_this_network_ends_at_once(eager_to_end: model.Engine) -> None:
    done = eager_to_end.infill(*BLANK, config=greedy(require_code=False))
    assert (done.text, done.finish_reason) == ("", "eos")


def test_on_a_blank_line_the_middle_gets_code(eager_to_end: model.Engine) -> None:
    tok = eager_to_end.tokenizer
    done = eager_to_end.infill(*BLANK, config=greedy())
    ending = tok.special_ids | tok.line_break_ids
    blank = [not done.text[:end].strip() for end in done.token_ends]  # True for a leading run
    under_rule = done.token_ids[: blank.count(True) + 1]  # the run and the first token with code
    assert under_rule and not ending & set(under_rule)
    assert done.text.strip() or done.finish_reason == "length"


def test_after_code_or_left_to_right_the_middle_may_end(eager_to_end: model.Engine) -> None:
    assert eager_to_end.infill(*AFTER_CODE, config=greedy()).finish_reason == "eos"
    assert eager_to_end.generate("def add(a, b):\n", greedy()).finish_reason == "eos"
    forced = eager_to_end.generate("def add(a, b):\n", greedy(require_code=True))
    assert forced.token_ids[0] not in eager_to_end.tokenizer.special_ids | eager_to_end.tokenizer.line_break_ids
