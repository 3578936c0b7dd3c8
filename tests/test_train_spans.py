"""Editor-aligned FIM spans (train/spans.py): each kind cuts what an editor asks for, invertibly."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from model.tokenizer import Tokenizer
from train.fim import FimSpec, cut_points, draw, permute, unpermute
from train.spans import MAX_LINES, SPANS, code_lines, editor_span

CODE = """import os


def walk(root):
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if os.path.isdir(path):
            yield from walk(path)
    return None
"""


def spans_of(kind: str, text: str = CODE, n: int = 300) -> list[str]:
    rng, lines = np.random.default_rng(0), code_lines(text)
    return [text[low:high] for low, high in (SPANS[kind](lines, rng) for _ in range(n))]  # type: ignore[misc]


def test_code_lines_skip_blank_lines_and_know_their_indentation() -> None:
    lines = code_lines(CODE)
    assert [CODE[line.code : line.end] for line in lines][:3] == [
        "import os",
        "def walk(root):",
        "for name in os.listdir(root):",
    ]
    assert [line.indent for line in lines] == [0, 0, 4, 8, 8, 12, 4]


def test_line_end_is_the_rest_of_a_line() -> None:
    rests = spans_of("line_end")
    assert all(rest and "\n" not in rest for rest in rests)
    assert all(any(line.endswith(rest) for line in CODE.splitlines()) for rest in rests)
    assert len(set(rests)) > 20  # cut inside lines, not only at their starts


def test_line_is_one_line_without_its_indentation() -> None:
    assert set(spans_of("line")) == {line.strip() for line in CODE.splitlines() if line.strip()}


def test_lines_are_one_to_four_whole_lines() -> None:
    counts = Counter(span.count("\n") + 1 for span in spans_of("lines"))
    assert set(counts) == set(range(1, MAX_LINES + 1))  # blank lines count as lines
    assert all(not span.endswith("\n") and span == span.strip() for span in spans_of("lines"))


def test_block_is_the_body_under_a_line_that_opens_it() -> None:
    assert (
        set(spans_of("block"))
        == {
            CODE[CODE.index("for name") : CODE.index("return None") + len("return None")],  # under def
            CODE[CODE.index("path = ") : CODE.index("walk(path)") + len("walk(path)")],  # under for
            "yield from walk(path)",  # under if
        }
    )


def test_a_file_without_code_or_blocks_still_gets_a_span() -> None:
    assert editor_span("\n  \n", np.random.default_rng(0)) is None
    flat = "a = 1\nb = 2\n"
    for seed in range(50):
        low, high = editor_span(flat, np.random.default_rng(seed)) or (0, 0)
        assert flat[low:high].strip() and not flat[low:high].endswith("\n")


def test_every_kind_is_drawn() -> None:
    spans = {
        CODE[low:high] for low, high in (editor_span(CODE, np.random.default_rng(i)) or (0, 0) for i in range(400))
    }
    starts = {CODE[line.code : line.end] for line in code_lines(CODE)}
    assert any(not any(line.startswith(span) for line in starts) for span in spans)  # line_end
    assert starts <= spans  # line
    assert any(span.count("\n") in (1, 2, 3) for span in spans)  # lines (and blocks)
    assert any(span.count("\n") == 4 for span in spans)  # only the block under `def` has 5 lines


def spec_of(tok: Tokenizer, span_rate: float) -> FimSpec:
    fim = tok.fim
    assert fim.pad is not None
    return FimSpec(fim.prefix, fim.middle, fim.suffix, fim.pad, rate=1.0, spm_rate=0.5, span_rate=span_rate)


def test_at_span_rate_zero_the_draws_are_megatrons(tok: Tokenizer) -> None:
    spec = spec_of(tok, 0.0)
    ours, theirs = np.random.default_rng(7), np.random.default_rng(7)
    for _ in range(100):
        choice = draw(CODE, ours, spec)
        assert theirs.random() < spec.rate and choice is not None
        assert (choice.low, choice.high) == cut_points(len(CODE), theirs)
        assert choice.spm == bool(theirs.random() < spec.spm_rate)


def test_span_rate_sets_the_share_of_editor_spans(tok: Tokenizer) -> None:
    rng = np.random.default_rng(1)
    line_aligned = 0
    for _ in range(2000):
        choice = draw(CODE, rng, spec_of(tok, 0.5))
        assert choice is not None
        middle = CODE[choice.low : choice.high]
        line_aligned += bool(middle) and CODE[choice.high : choice.high + 1] == "\n" and not middle.endswith("\n")
    # Editor spans always end a line; a uniform cut does so for about 1 in 25 draws here.
    assert 0.45 < line_aligned / 2000 < 0.6


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("ab :\t\n\r\x0c\u2028é"), max_size=120), seed=st.integers(0, 2**32))
def test_editor_spans_invert_exactly(tok: Tokenizer, text: str, seed: int) -> None:
    spec = spec_of(tok, 1.0)
    rng = np.random.default_rng(seed)
    ids = permute(text, rng, spec, tok.encode)
    assert ids is not None and unpermute(ids, spec, tok.decode) == text
    low_high = editor_span(text, np.random.default_rng(seed))
    if low_high is not None:
        low, high = low_high
        assert 0 <= low < high <= len(text) and text[low:high].strip()
