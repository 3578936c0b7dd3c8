"""Token healing (model/healing.py): the prompt's last token given back and rewritten in agreement."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

import model
from model import GenerationConfig
from model.healing import Agreement, give_back
from model.tokenizer import Tokenizer, load_tokenizer
from tests.tiny import make_model, make_tokenizer


@pytest.fixture(scope="module")
def tok(tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    return load_tokenizer(make_tokenizer(Path(tmp_path_factory.mktemp("tok"))))


def test_the_last_token_is_given_back(tok: Tokenizer) -> None:
    ids = tok.encode("def add(a, b):\n    ret")
    kept, text = give_back(ids, tok)
    assert kept == ids[:-1] and text == tok.decode(ids[-1:]) and text and "    ret".endswith(text)
    assert tok.decode(kept) + text == "def add(a, b):\n    ret"


def test_nothing_is_given_back_when_it_cannot_be_healed(tok: Tokenizer) -> None:
    eos = tok.eos_id
    assert eos is not None
    assert give_back(tok.encode("x"), tok)[1] == ""  # the prompt would be empty
    assert give_back([*tok.encode("x = 1"), eos], tok)[1] == ""  # a special token
    partial = tok.encode("é")  # byte-level: one character, two tokens at most
    if len(partial) > 1:
        assert give_back(tok.encode("x = ") + partial[:1], tok)[1] == ""


def test_agreeing_tokens_start_with_the_text_or_begin_it(tok: Tokenizer) -> None:
    agreement = Agreement(tok, rows=tok.vocab_size + 3, device=torch.device("cpu"))
    pending = " return"
    mask = agreement.allowed(pending)
    assert mask.shape == (tok.vocab_size + 3,) and not mask[tok.vocab_size :].any()
    chosen = {tok.decode([i]) for i in mask.nonzero().flatten().tolist()}
    assert chosen and all(t.startswith(pending) or pending.startswith(t) for t in chosen)
    assert " " in chosen and not any(t.startswith("x") for t in chosen)
    assert not mask[list(tok.special_ids)].any()
    everything = [tok.decode([i]) for i in range(tok.vocab_size) if i not in tok.special_ids]
    assert len(chosen) == sum(t.startswith(pending) or pending.startswith(t) for t in everything if t)
    assert agreement.allowed(pending) is mask  # cached


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> model.Engine:
    return model.load(make_model(tmp_path_factory.mktemp("heal")))


@pytest.mark.parametrize("prefix", ["def add(a, b):\n    ret", "def add(a, b):\n    ", "x = add(1"])
def test_generation_rewrites_the_given_back_text_and_returns_what_follows(engine: model.Engine, prefix: str) -> None:
    config = GenerationConfig(max_new_tokens=8, use_prefix_cache=False)
    healed = engine.infill(prefix, "\n", config=config)
    plain = engine.infill(prefix, "\n", config=replace(config, heal=False))
    given = give_back(engine.tokenizer.encode(prefix), engine.tokenizer)[1]
    written = engine.tokenizer.decode(healed.token_ids)
    assert given and healed.prompt_tokens == plain.prompt_tokens - 1
    assert written.startswith(given) and healed.text == written[len(given) :]
    assert len(healed.token_logprobs) == len(healed.token_ends) and all(p <= 0 for p in healed.token_logprobs)


def test_streamed_pieces_never_hold_the_given_back_text(engine: model.Engine) -> None:
    config = GenerationConfig(max_new_tokens=8, use_prefix_cache=False)
    generation = engine.stream_infill("def add(a, b):\n    ret", "\n", config=config)
    assert "".join(generation) == generation.wait().text
