"""`santa-lsp complete FILE:LINE:COL`: a bad cursor is a one-line error, given before any model loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from santa_lsp.commands import complete, complete_parser

SOURCE = "def add(a, b):\n    return a + b\n"  # three lines, the last one empty


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The error line `complete` exits with (status 2, as argparse does for bad arguments)."""
    with pytest.raises(SystemExit) as stop:
        complete(argv)
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("santa-lsp complete: error: ")
    return error


@pytest.mark.parametrize("where", ["a.py", "a.py:2", "a.py:two:5", "a.py:2:5.0", "a.py:2:-1", ":2:5", "a.py:²:5"])
def test_a_malformed_cursor_says_what_is_expected(where: str, capsys: pytest.CaptureFixture[str]) -> None:
    error = refused([where], capsys)
    assert f"{where!r}: expected FILE:LINE:COL" in error and "invalid literal" not in error


def test_one_completion_waits_for_the_whole_answer() -> None:
    assert complete_parser().parse_args(["a.py:1:1"]).time_budget_ms == 0  # however busy the machine
    assert complete_parser().parse_args(["--time-budget-ms", "300", "a.py:1:1"]).time_budget_ms == 300


def test_line_and_column_start_at_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert "LINE and COL start at 1" in refused(["a.py:0:1"], capsys)
    assert "LINE and COL start at 1" in refused(["a.py:1:0"], capsys)


def test_a_line_past_the_end_is_refused_before_the_model_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "a.py"
    source.write_text(SOURCE)
    # A model that cannot load: had it been loaded first, its error would be the one reported.
    error = refused(["--model", str(tmp_path / "no-model"), f"{source}:4:1"], capsys)
    assert f"{source}:4: past the end of the file: LINE goes from 1 to 3" in error


def test_a_column_past_the_end_of_its_line_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "a.py"
    source.write_text(SOURCE)
    error = refused(["--model", str(tmp_path / "no-model"), f"{source}:2:18"], capsys)
    assert f"{source}:2:18: past the end of the line: COL goes from 1 to 17 there" in error


def test_a_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "No such file" in refused([f"{tmp_path / 'gone.py'}:1:1"], capsys)


def test_the_cursor_may_sit_after_the_last_character(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "a.py"
    source.write_text(SOURCE)
    for where in (f"{source}:2:17", f"{source}:3:1"):  # the end of a line, the empty last line
        assert complete(["--model", str(tiny_model), "--max-new-tokens", "4", where]) == 0, where
        assert "error" not in capsys.readouterr().err
