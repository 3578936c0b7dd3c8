"""`santa-lsp bench --quality`: its accounting against scripted suggestions, its regions, and
one run with the shipped model through the real server."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

import model
from santa_lsp import bench_quality
from santa_lsp.bench_quality import (
    Region,
    Tally,
    accepted_length,
    auto_indent,
    is_loop,
    junk_kind,
    one_per_document,
    type_session,
)
from santa_lsp.documents import Document

FILE = "def total(price, qty):\n    amount = price * qty\n    return amount\n"


def block_region() -> Region:
    """Both lines of the body typed back, the first from its indentation."""
    typed = "amount = price * qty\n    return amount"
    return Region("python/t.py", "python", "block", "def total(price, qty):\n    ", typed, "\n", auto_indent(typed))


class ScriptedClient:
    """A test double for the server, for these accounting tests only: it keeps the document from
    the bench's edits and answers with the suggestion scripted for the text left of the cursor."""

    def __init__(self, script: dict[str, str], delay_s: float = 0.0) -> None:
        self.script, self.delay_s = script, delay_s
        self.doc: Document | None = None
        self.final = ""

    def text_document_did_open(self, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        self.doc = Document.from_text(item.uri, item.language_id, item.version, item.text, "utf-16")

    def text_document_did_change(self, params: types.DidChangeTextDocumentParams) -> None:
        assert self.doc is not None
        for change in params.content_changes:
            start, end = change.range.start, change.range.end
            self.doc.edit((start.line, start.character), (end.line, end.character), change.text)

    def text_document_did_close(self, params: types.DidCloseTextDocumentParams) -> None:
        assert self.doc is not None
        self.final = "".join(self.doc.lines)

    async def text_document_inline_completion_async(
        self, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        await asyncio.sleep(self.delay_s)
        assert self.doc is not None
        left = self.doc.lines[params.position.line][: params.position.character]
        text = self.script.get(left, "")
        return types.InlineCompletionList(items=[types.InlineCompletionItem(insert_text=text)] if text else [])


def type_region(client: ScriptedClient, region: Region, rng: random.Random | None = None) -> Tally:
    [tally] = asyncio.run(type_session(client, one_per_document([region])[0], rng))  # type: ignore[arg-type]
    return tally


def test_accounting_of_full_partial_and_refused_suggestions() -> None:
    script = {
        "    ": "amount = price",  # what comes next: accepted whole (1 keystroke)
        "    amount = price": " + qty",  # wrong after one character: not accepted, " " typed
        "    amount = price ": "* quantity",  # right up to "* q": accepted back to the word boundary, "* "
        "    amount = price * ": "qty\n    return amount",  # the rest, over the line end: accepted whole
    }
    client = ScriptedClient(script)
    tally = type_region(client, block_region())
    assert client.final == FILE  # the document the bench typed is the file again
    assert tally.chars == len("amount = price * qty\n") + len("return amount")  # auto-indent is free
    assert tally.keystrokes == 4 and tally.requests == 4
    assert (tally.shown, tally.accepted_full, tally.accepted_partial) == (4, 2, 1)
    summary = tally.summary()
    assert summary["keystrokes_saved"] == pytest.approx(1 - 4 / 34)
    assert summary["shown_not_accepted"] == 1 and summary["junk"] == 0


def test_without_suggestions_every_character_is_a_keystroke() -> None:
    client = ScriptedClient({})
    tally = type_region(client, block_region())
    assert client.final == FILE
    assert tally.keystrokes == tally.chars == 34 and tally.shown == 0
    assert tally.requests == 34  # one request after every keystroke, and one at the start
    assert tally.after_accept_ms == tally.after_enter_ms == []  # an Enter typed after no accept is not timed


def test_answers_after_a_whole_accept_and_after_the_enter_that_follows_it_are_timed() -> None:
    """The next suggestion after an accept (what prefetchNext is for): the answer right after
    the accept, at the end of the line, and the one after the Enter typed next."""
    tally = type_region(ScriptedClient({"    ": "amount = price * qty"}), block_region())
    assert tally.keystrokes == 1 + 1 + len("return amount")  # the accept, Enter, the second line by hand
    assert len(tally.after_accept_ms) == 1  # at the end of the first line: nothing there
    assert len(tally.after_enter_ms) == 1 and tally.after_enter_shown == 1  # the script's text again, not taken
    summary = tally.summary()
    assert (summary["after_enter"], summary["after_enter_shown"]) == (1, 1)
    assert summary["after_enter_p50_ms"] == pytest.approx(summary["after_enter_ms"][0], abs=0.05)
    assert len(summary["after_accept_ms"]) == 1


def test_junk_is_counted_when_shown_and_never_for_what_is_accepted_whole() -> None:
    typed = "return amount"
    region = Region("python/t.py", "python", "line", "def total(price, qty):\n    amount = price * qty\n    ",
                    typed, "\n", auto_indent(typed))  # fmt: skip
    script = {
        "    ": "return amount, pat, pat, pat",  # a loop: its matching start is still accepted
        "    return amount": "'",  # leaves a string open: broken
    }
    tally = type_region(ScriptedClient(script), region)
    assert (tally.junk_loop, tally.junk_broken) == (1, 0)  # the second was never shown: nothing left to type
    assert tally.accepted_partial == 1 and tally.keystrokes == 1
    script = {"    ": "return amount"}
    assert type_region(ScriptedClient(script), region).junk_loop == 0


@pytest.mark.slow
def test_realtime_counts_a_suggestion_only_if_it_came_before_the_next_keystroke() -> None:
    script = {"    ": "amount = price * qty\n    return amount"}
    on_time = type_region(ScriptedClient(script), block_region(), random.Random(0))
    assert on_time.keystrokes == 1 and on_time.late == 0
    late = type_region(ScriptedClient(script, delay_s=5.0), block_region(), random.Random(0))
    assert late.shown == 0 and late.late == late.requests == 34 and late.keystrokes == 34
    assert late.latencies_ms == []  # answers with a suggestion that came too late were never shown


def test_shown_latencies_are_also_compared_where_both_arms_showed_a_suggestion() -> None:
    first = bench_quality.Arm("a", {}, shown_per_region=[{0: 10.0, 5: 30.0}, {2: 50.0}])
    other = bench_quality.Arm("b", {}, shown_per_region=[{0: 20.0, 7: 900.0}, {2: 60.0, 3: 800.0}])
    same = bench_quality.shown_at_same_places(first, other)
    assert same["places"] == 2  # (region 0, 0 typed) and (region 1, 2 typed)
    assert (same["p50_ms_first"], same["p50_ms"]) == (pytest.approx(30.0), pytest.approx(40.0))
    nothing = bench_quality.Arm("c", {}, shown_per_region=[{}, {}])
    assert bench_quality.shown_at_same_places(first, nothing) == {"places": 0, "p50_ms_first": None, "p50_ms": None}


def test_saved_intervals_are_bootstrapped_over_regions_and_paired_between_arms() -> None:
    rng = random.Random(1)
    base = [(40, rng.randint(20, 40)) for _ in range(200)]
    better = [(chars, keystrokes - 2) for chars, keystrokes in base]  # two keystrokes fewer in every region
    lo, hi = bench_quality.saved_interval([base])
    assert lo < bench_quality._saved(base) < hi
    low, high = bench_quality.saved_interval([better, base])
    assert low == pytest.approx(0.05) and high == pytest.approx(0.05)  # 2 of 40 everywhere: no spread
    assert bench_quality.saved_interval([base, base]) == [0.0, 0.0]


def test_quality_mode_lifts_the_time_budget_and_realtime_keeps_it() -> None:
    assert bench_quality.server_options({}, realtime=False) == {"timeBudgetMs": 0}
    assert bench_quality.server_options({"timeBudgetMs": 300}, realtime=False) == {"timeBudgetMs": 300}
    assert bench_quality.server_options({"minTokenProb": 0.1}, realtime=True) == {"minTokenProb": 0.1}


def test_accept_word_cuts_back_to_a_word_boundary() -> None:
    assert accepted_length("foo.bar(x)", "foo.bar(x)\n") == 10
    assert accepted_length("foo.barrel", "foo.bar(x)") == 4  # "foo." : "bar" is not finished
    assert accepted_length("self.name = nam", "self.name = name") == 15  # all of it matches
    assert accepted_length("x + y", "x - y") == 2  # "x ": two characters for one keystroke
    assert accepted_length("+ y", "- y") == 0
    assert accepted_length("x+y", "x-y") == 0  # one character saves nothing
    assert accepted_length("results", "result = []") == 0


@pytest.mark.parametrize("text", ["name, pat, pat, pat, pat", "0.0+1.0+1.0+1.0+", "/bin/bin/bin/", "x = 1\nx = 1\n"])
def test_loops_quoted_in_the_issue_are_loops(text: str) -> None:
    assert is_loop(text)


@pytest.mark.parametrize("text", ["return a + b", "# --------------------", "    }\n  }\n}", "x = [1, 2, 3]"])
def test_ordinary_code_is_not_a_loop(text: str) -> None:
    assert not is_loop(text)


def test_junk_kind_uses_the_lines_above_for_open_brackets() -> None:
    assert junk_kind("'abc", "def f():\n    x = ", "python") == "broken"
    # Inside a call spread over lines the statement cannot be judged alone.
    assert junk_kind(") + 1", "def f():\n    x = g(\n        a,\n        ", "python") is None


def test_regions_are_reproducible_inside_function_bodies_and_split_by_file(tmp_path: Path) -> None:
    files = bench_quality.heldout_files([str(bench_quality.HELDOUT)], "all")
    tune = bench_quality.heldout_files([str(bench_quality.HELDOUT)], "tune")
    report = bench_quality.heldout_files([str(bench_quality.HELDOUT)], "report")
    assert sorted(tune + report) == sorted(files) and not set(tune) & set(report)
    for language in ("python", "java", "javascript"):
        assert sum(bench_quality.LANGUAGES[f.suffix] == language for f in report) >= 4
    file = files[0]
    text = file.read_text()
    first = bench_quality.pick_regions(file.name, text, "python", 3, seed=0)
    assert first == bench_quality.pick_regions(file.name, text, "python", 3, seed=0)
    assert first != bench_quality.pick_regions(file.name, text, "python", 3, seed=1)
    assert {r.kind for r in first} == {"line", "block", "midline"}
    for region in first:
        assert region.before + region.typed + region.after == text
        assert region.before.split("\n")[-1].startswith("    ")  # inside a body: indented
        assert region.typed.strip() and "\n" not in region.typed.split("\n")[0]


@pytest.mark.slow
@pytest.mark.skipif(model.default_model() is None, reason="the shipped model is not installed")
def test_quality_run_with_the_shipped_model_through_the_real_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "quality.json"
    argv = ["--model", str(model.DEFAULT_MODEL), "--max-files", "1", "--per-kind", "1", "--json", str(out),
            "--settings", "{}", "--settings", '{"minTokenProb": 0.99}']  # fmt: skip
    assert bench_quality.main(argv) == 0
    result: dict[str, Any] = json.loads(out.read_text())
    assert result["mode"] == "quality" and result["split"] == "report" and result["files"] == 3
    default, strict = result["arms"]
    for arm in (default, strict):
        overall = arm["overall"]
        assert set(arm["languages"]) == {"python", "java", "javascript"}
        assert overall["keystrokes_saved"] == pytest.approx(1 - overall["keystrokes"] / overall["chars"])
        # Every request the bench counted reached the server, and the server answered each.
        assert arm["server_metrics"]["requests"] == overall["requests"]
        assert overall["shown"] >= overall["accepted_full"] + overall["accepted_partial"]
    assert default["overall"]["chars"] == strict["overall"]["chars"]  # the same regions for both arms
    assert [chars for chars, _ in default["per_region"]] == [chars for chars, _ in strict["per_region"]]
    assert sum(keys for _, keys in strict["per_region"]) == strict["overall"]["keystrokes"]
    lo, hi = default["overall"]["keystrokes_saved_ci95"]
    assert lo <= default["overall"]["keystrokes_saved"] <= hi
    versus = strict["saved_vs_first"]
    assert versus["difference"] == pytest.approx(
        strict["overall"]["keystrokes_saved"] - default["overall"]["keystrokes_saved"]
    )
    # The shipped model is sure of few tokens: a 0.99 floor cuts or drops most suggestions.
    assert strict["server_metrics"]["unsureDropped"] > 0
    assert strict["overall"]["shown"] < default["overall"]["shown"]
    table = capsys.readouterr().out
    assert '{"minTokenProb":0.99}' in table and "overall" in table


def test_multi_site_types_a_files_regions_back_into_one_document_in_turn() -> None:
    file = bench_quality.heldout_files([str(bench_quality.HELDOUT)], "report")[0]
    text = file.read_text()
    regions = bench_quality.pick_regions(file.name, text, bench_quality.LANGUAGES[file.suffix], 3, seed=0)
    session = bench_quality.multi_site(regions, seed=0)
    assert 2 <= len(session.regions) <= len(regions)
    in_file_order = sorted(session.regions, key=lambda region: len(region.before))
    assert session.regions != tuple(in_file_order)  # shuffled: the user moves up and down the file
    assert len(session.text) == len(text) - sum(len(region.typed) for region in session.regions)
    client = ScriptedClient({})
    tallies = asyncio.run(type_session(client, session, None))  # type: ignore[arg-type]
    assert client.final == text  # each region went back where it came from, in the document as it then was
    assert [tally.chars for tally in tallies] == [region.chars for region in session.regions]
    assert session.regions[-1].before + session.regions[-1].typed + session.regions[-1].after == text
