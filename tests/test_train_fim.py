"""FIM transformation: the permutation is invertible and its rates are those asked for."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.tokenizer import Tokenizer
from train.fim import FimSpec, Piece, cut_points, draw, fit, permute, transform_context, unpermute


def spec_of(tok: Tokenizer, rate: float = 1.0, spm_rate: float = 0.5) -> FimSpec:
    fim = tok.fim
    assert fim.pad is not None
    return FimSpec(fim.prefix, fim.middle, fim.suffix, fim.pad, rate, spm_rate)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200), seed=st.integers(0, 2**32), spm=st.sampled_from([0.0, 1.0]))
def test_undoing_the_permutation_recovers_the_document(tok: Tokenizer, text: str, seed: int, spm: float):
    spec = spec_of(tok, spm_rate=spm)
    ids = permute(text, np.random.default_rng(seed), spec, tok.encode)
    assert ids is not None and ids[0] == spec.prefix
    assert ids.count(spec.middle) == 1 and ids.count(spec.suffix) == 1
    assert unpermute(ids, spec, tok.decode) == text


def test_orders_match_santacoder(tok: Tokenizer):
    text = "def add(a, b):\n    return a + b\n"
    for spm_rate in (0.0, 1.0):
        spec = spec_of(tok, spm_rate=spm_rate)
        ids = permute(text, np.random.default_rng(3), spec, tok.encode)
        choice = draw(text, np.random.default_rng(3), spec)  # the same draws, replayed
        assert choice is not None and choice.spm == (spm_rate == 1.0)
        p, m, s = (tok.encode(x) for x in (text[: choice.low], text[choice.low : choice.high], text[choice.high :]))
        if choice.spm:
            assert ids == [spec.prefix, spec.suffix, *s, spec.middle, *p, *m]
        else:
            assert ids == [spec.prefix, *p, spec.suffix, *s, spec.middle, *m]


def within(count: int, n: int, p: float) -> bool:
    """`count` successes in `n` trials is within 5 standard deviations of rate `p`."""
    return abs(count / n - p) <= 5 * math.sqrt(p * (1 - p) / n) + 1e-12


@pytest.mark.parametrize(("rate", "spm_rate"), [(0.5, 0.5), (0.2, 0.9), (0.0, 0.5), (1.0, 0.0)])
def test_rates_are_respected(tok: Tokenizer, rate: float, spm_rate: float):
    spec = spec_of(tok, rate, spm_rate)
    rng = np.random.default_rng(0)
    n = 4000
    draws = [draw("x = 1\nreturn x", rng, spec) for _ in range(n)]
    fim = [d for d in draws if d is not None]
    assert within(len(fim), n, rate)
    if fim:
        assert within(sum(d.spm for d in fim), len(fim), spm_rate)


def test_cut_points_are_uniform_over_characters():
    rng = np.random.default_rng(1)
    cuts = np.array([cut_points(9, rng) for _ in range(20000)])
    assert (cuts[:, 0] <= cuts[:, 1]).all() and cuts.min() == 0 and cuts.max() == 9
    # Order statistics of two uniforms on {0..9}: E[min] = 2.85, E[max] = 6.15.
    assert abs(cuts[:, 0].mean() - 2.85) < 0.05 and abs(cuts[:, 1].mean() - 6.15) < 0.05


def test_context_keeps_end_of_text_and_pads(tok: Tokenizer):
    spec = spec_of(tok)
    eos = tok.eos_id
    assert eos is not None
    pieces = [Piece(tok.encode("ab"), "ab", True), Piece(tok.encode("cd"), None, False)]
    ids = transform_context(pieces, np.random.default_rng(0), spec, tok.encode, tok.decode, eos)
    assert ids.count(eos) == 1 and ids.count(spec.prefix) == 2
    first, second = ids[: ids.index(eos)], ids[ids.index(eos) + 1 :]
    assert unpermute(first, spec, tok.decode) == "ab" and unpermute(second, spec, tok.decode) == "cd"
    assert fit(ids, 3, spec.pad) == (ids[:3], 3)
    padded, valid = fit(ids, len(ids) + 4, spec.pad)
    assert valid == len(ids) and padded[valid:] == [spec.pad] * 4
