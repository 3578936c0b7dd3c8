"""Several candidates per request (setting `candidates`) through the real server: distinct items,
best first, each through the rules and gates, in both requests, with typed-ahead and statistics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.lsp_support import DATA_DIR, URI, inline, insert, metrics, open_doc, plain, start, stop

CODE = "def add(a, b):\n    return a + b\n\n\ndef fib(n):\n    \n"
CURSOR = (5, 4)  # the empty, indented line in fib


def texts(result: types.InlineCompletionList) -> list[str]:
    return [str(item.insert_text) for item in result.items]


@pytest.mark.asyncio
async def test_several_distinct_candidates_best_first(client: LanguageClient, tiny_model: Path) -> None:
    await start(client, tiny_model, candidates=3, cache=False)
    open_doc(client, CODE)
    result = await inline(client, *CURSOR)
    candidates = texts(result)
    assert len(candidates) >= 2 and len(set(candidates)) == len(candidates) and all(t.strip() for t in candidates)
    assert all(item.range.start == types.Position(*CURSOR) for item in result.items)
    ids = [item.command.arguments[0] for item in result.items]
    assert len(set(ids)) == len(ids)  # each candidate's acceptance is told apart
    assert (await metrics(client))["modelCalls"] == 1  # one batch for all of them

    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"candidates": 1}))
    assert texts(await inline(client, *CURSOR)) == candidates[:1]  # the first is the greedy one

    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"candidates": 3}))
    params = types.CompletionParams(types.TextDocumentIdentifier(URI), types.Position(*CURSOR))
    listed = await client.text_document_completion_async(params)
    assert isinstance(listed, types.CompletionList)
    assert [item.text_edit.new_text for item in listed.items] == candidates  # greedy: the same, in order
    assert [item.sort_text for item in listed.items] == [str(i) for i in range(len(candidates))]


@pytest.mark.asyncio
async def test_candidates_that_come_out_the_same_are_shown_once(client: LanguageClient, tiny_model: Path) -> None:
    # With token healing the tiny model's rows rewrite the indentation in different tokens and
    # two of them go on to the same text: found by trying cursors, fixed by the seeded weights.
    await start(client, tiny_model, candidates=8, maxNewTokens=3, tokenHealing=True, cache=False)
    open_doc(client, CODE)
    candidates = texts(await inline(client, 1, 4))
    assert candidates and len(set(candidates)) == len(candidates)
    assert (await metrics(client))["duplicateCandidates"] >= 1


@pytest.mark.asyncio
async def test_every_candidate_goes_through_the_gates(client: LanguageClient, tiny_model: Path) -> None:
    # The tiny random model is never 99.9% sure of a first token: no candidate may get through.
    await start(client, tiny_model, candidates=3, minTokenProb=0.999)
    open_doc(client, CODE)
    assert not (await inline(client, *CURSOR)).items
    assert (await metrics(client))["unsureDropped"] == 3
    # Mid-line, each candidate ends with the line (post-processing, not only the first one's).
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"minTokenProb": 0}))
    candidates = texts(await inline(client, 1, 10))
    assert len(candidates) >= 2 and not any("\n" in text for text in candidates)


@pytest.fixture
def fresh_stats() -> Iterator[Path]:
    """The servers' statistics file (shared by the session's servers), absent before and after."""
    path = Path(DATA_DIR) / "stats.json"
    path.unlink(missing_ok=True)
    yield path
    path.unlink(missing_ok=True)


@pytest.mark.asyncio
async def test_typing_into_any_candidate_keeps_it_and_its_acceptance_is_counted(
    client: LanguageClient, tiny_model: Path, fresh_stats: Path
) -> None:
    await start(client, tiny_model, candidates=3, stats=True)
    open_doc(client, CODE)
    shown = await inline(client, *CURSOR)
    second = texts(shown)[1]
    insert(client, CURSOR[0], CURSOR[1], second[0], version=2)  # the user cycled to it and typed on
    typed_ahead = await inline(client, CURSOR[0], CURSOR[1] + 1)
    rests = texts(typed_ahead)
    assert rests == [t[1:] for t in texts(shown) if t[0] == second[0] and len(t) > 2]  # in their order
    assert (await metrics(client))["modelCalls"] == 1  # answered from the typed-ahead cache

    # The user takes the second candidate's rest; the same request's other items are spent then.
    taken = typed_ahead.items[rests.index(second[1:])].command
    for command in (taken, *(item.command for item in typed_ahead.items)):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command.command, arguments=command.arguments)
        )
    summary = plain(await client.protocol.send_request_async("santa/stats", {}))
    assert summary["shown"] == 2 and summary["accepted"] == 1
    assert summary["acceptedByCandidate"] == [0, 1]
    await stop(client)
    assert json.loads(fresh_stats.read_text())["acceptedByCandidate"] == [0, 1]


def test_the_candidates_bench_reports_each_count_against_the_first(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.candidates import main

    source = tmp_path / "code.py"
    source.write_text(CODE)
    main(["--model", str(tiny_model), "--file", str(source), "--counts", "1,2", "--cursors", "2"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("candidates ")]
    assert [row.split(":")[0] for row in rows] == ["candidates 1", "candidates 2"]
    assert "(x1.00)" in rows[0] and "of 2" in rows[1]
