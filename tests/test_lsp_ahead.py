"""Generations ahead of their request (santa_lsp/ahead.py): one kept alive while the user types
what it writes (`keepAgreeing`), and the suggestion after an accept made in idle time
(`prefetchNext`). What ran is read from santa/metrics; nothing here is timed.

Two documents with the same text and no cross-file context get the same prompt: one of them
tells what the model writes, the other is where the test types.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.lsp_support import LONG, SLOW_PROMPT, inline, insert, metrics, open_doc, send_inline, start, while_generating

SEEN = "file:///work/seen.py"  # where the test learns what the model writes
TYPED = "file:///work/typed.py"  # where it types
NEXT = "file:///work/next.py"  # where it learns what the model writes after the place it types at
# No cross-file context (the two documents' prompts are the same), no prefix cache (the same
# numbers for the same prompt) and no typed-ahead cache (a second generation is a model call).
SAME = {"crossFile": False, "cache": False}


def text(answer: types.InlineCompletionList) -> str:
    return str(answer.items[0].insert_text) if answer.items else ""


def end_of(line: int, column: int, inserted: str) -> tuple[int, int]:
    """Where the cursor is once `inserted` is written at (line, column)."""
    if "\n" not in inserted:
        return line, column + len(inserted)
    return line + inserted.count("\n"), len(inserted) - inserted.rfind("\n") - 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("keep", "agreeing", "client_cancels"),
    [(True, True, False), (True, True, True), (True, False, False), (False, True, False)],
)
async def test_typing_what_the_running_generation_writes_keeps_it(
    client: LanguageClient, slow_model: Path, slow_token_s: float, keep: bool, agreeing: bool, client_cancels: bool
) -> None:
    """Also when the editor cancels the first request as the user types (VS Code does)."""
    await start(client, slow_model, maxNewTokens=LONG, keepAgreeing=keep, **SAME)
    open_doc(client, SLOW_PROMPT, SEEN)
    open_doc(client, SLOW_PROMPT, TYPED)
    written = text(await inline(client, 1, 0, SEEN))
    assert len(written) > 4
    first = send_inline(client, "first", 1, 0, TYPED)  # a long generation, under way when the user types
    await while_generating(slow_token_s)  # it has written its first tokens: the typed text agrees with them, or not
    typed = written[:2] if agreeing else ("Q" if written[0] != "Q" else "Z")
    insert(client, 1, 0, typed, 2, TYPED)
    if client_cancels:
        client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="first"))
        with pytest.raises(JsonRpcException):
            await first
    second = await inline(client, 1, len(typed), TYPED)
    figures = await metrics(client)
    if keep and agreeing:  # answered from the first request's generation: no second one
        assert text(second) == written[2:]
        assert client_cancels or text(await first) == written
        assert (figures["keptAlive"], figures["modelCalls"], figures["cancelled"]) == (1, 2, 0)
    else:  # latest wins: the first generation is cancelled, the second request makes its own
        assert not (await first).items
        assert (figures["keptAlive"], figures["modelCalls"], figures["cancelled"]) == (0, 2, 1)


@pytest.mark.asyncio
@pytest.mark.parametrize("edit_elsewhere", [False, True])
async def test_the_suggestion_after_an_accept_is_prefetched(
    client: LanguageClient, tiny_model: Path, edit_elsewhere: bool
) -> None:
    await start(client, tiny_model, prefetchNext=True, **SAME)
    open_doc(client, SLOW_PROMPT, TYPED)
    shown = text(await inline(client, 1, 0, TYPED))
    assert shown
    version = 2
    if edit_elsewhere:  # any edit but the accept cancels the prefetch
        insert(client, 0, 0, "#", version, TYPED)
        version += 1
    line = 1
    insert(client, line, 0, shown, version, TYPED)  # the user accepts it
    after = await inline(client, *end_of(line, 0, shown), TYPED)
    assert (await metrics(client))["prefetchHits"] == int(not edit_elsewhere)
    if not edit_elsewhere:  # what a fresh generation gives there
        accepted = SLOW_PROMPT.replace("\n\n", "\n" + shown + "\n", 1)
        open_doc(client, accepted, SEEN)
        assert text(after) == text(await inline(client, *end_of(line, 0, shown), SEEN))


@pytest.mark.asyncio
@pytest.mark.parametrize(("accept", "indent", "hit"), [(True, "", True), (True, "  ", False), (False, "", False)])
async def test_the_suggestion_after_the_enter_that_follows_an_accept_is_prefetched(
    client: LanguageClient, tiny_model: Path, accept: bool, indent: str, hit: bool
) -> None:
    """An accept that ends a line leaves nothing to suggest at its end: the suggestion on the next
    line, after Enter and the indentation an editor adds there, is made in idle time. An editor
    that indents otherwise gets a fresh generation, and so does a line typed to its end by hand
    (there the cursor is at the end of the line at every keystroke: a prefetch would be wasted)."""
    code = "import os\nx = os."  # at its end the model writes a line, and nothing after it
    await start(client, tiny_model, prefetchNext=True, **SAME)
    open_doc(client, code, SEEN)
    shown = text(await inline(client, 1, 7, SEEN))
    line = "x = os." + shown
    open_doc(client, f"import os\n{line}\n{indent}", NEXT)  # what a fresh generation gives there
    fresh = text(await inline(client, 2, len(indent), NEXT))
    assert shown and fresh
    if accept:
        open_doc(client, code, TYPED)
        assert text(await inline(client, 1, 7, TYPED)) == shown
        insert(client, 1, 7, shown, 2, TYPED)  # the user accepts it
    else:
        open_doc(client, f"import os\n{line}", TYPED)
    assert not (await inline(client, 1, len(line), TYPED)).items
    insert(client, 1, len(line), "\n" + indent, 3, TYPED)  # Enter, and the editor's indentation
    after = text(await inline(client, 2, len(indent), TYPED))
    assert (await metrics(client))["prefetchHits"] == int(hit)
    assert after == fresh
