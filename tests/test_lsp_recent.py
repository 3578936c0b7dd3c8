"""Recently edited regions and copied text as prompt context (setting `recentEdits`,
santa_lsp/recent.py, notification `santa/copied`): the ring itself, and the real server with a
tiny model, whose DEBUG log shows the regions placed in a prompt and whose metrics count the
prompts that carried them and the copies taken."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from santa_lsp.crossfile import CHUNK_LINES
from santa_lsp.documents import Document, LineEdit
from santa_lsp.prompt import PromptBuilder
from santa_lsp.recent import COPIED_CHARS, MAX_COPIED, RecentEdits
from santa_lsp.rpc import COPIED
from santa_lsp.window import Cursor, TokenCounter
from santa_lsp.workspace import OpenDocument
from tests.lsp_support import OPTIONS, RawServer, inline, insert, make_printable_model, metrics, open_doc, start

URI, OTHER = "file:///work/a.py", "file:///work/b.py"
# A file far longer than the model's window: its top is out of sight at its end.
LONG = "def first(a):\n    return a\n\n" + "".join(f"value_{i} = {i}\n" for i in range(300))
TOP, BOTTOM = (1, 4), (250, 0)  # inside `first`'s body; far below it
PLACED = re.compile(r"recent edits in the prompt of \S+ \(\d+ tokens\): (.*)")
COPY = "def copied_helper(x):\n    return x * 42\n"  # in no document


@pytest.fixture(scope="module")
def wide_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with room for a region beside the window: a quarter of the prompt's room
    is the most the regions may take, and 256 positions leave about 45 tokens for them."""
    return make_printable_model(tmp_path_factory.mktemp("wide") / "model", n_positions=1024)


def words(text: str) -> int:
    return len(text.split()) + 1


def edit_at(ring: RecentEdits, doc: Document, line: int, text: str) -> None:
    """Type `text` at the start of `line`, as the server's didChange handler feeds the ring."""
    ring.edited(doc.uri, doc.lines, doc.edit((line, 0), (line, 0), text))


def numbered(uri: str, lines: int = 100, name: str = "line") -> Document:
    return Document.from_text(uri, "python", 1, "".join(f"{name}_{i} = {i}\n" for i in range(lines)), "utf-16")


# --- the ring -------------------------------------------------------------------------------------


def test_a_site_joins_the_ring_when_the_user_edits_elsewhere() -> None:
    ring, doc = RecentEdits(), numbered(URI)
    edit_at(ring, doc, 10, "edited_here = 1\n")
    edit_at(ring, doc, 12, "x")  # near the first edit: the same site, still where the user is
    assert ring.ring == [] and ring.version == 0
    edit_at(ring, doc, 60, "y")
    [left] = ring.ring
    assert "edited_here = 1\n" in left.text and (left.first, left.last) == (10, 12)
    assert left.text.startswith("line_7 = 7\n")  # a few lines around it: AROUND = 3
    assert ring.version == 1
    edit_at(ring, doc, 0, "new_top = 0\n")  # a line above: the entry moves with its lines
    assert (ring.ring[0].first, ring.ring[0].last) == (11, 13)


def test_the_ring_keeps_a_place_once_and_drops_near_copies() -> None:
    ring, doc = RecentEdits(), numbered(URI)
    edit_at(ring, doc, 10, "first_visit = 1\n")
    edit_at(ring, doc, 60, "elsewhere = 1\n")
    edit_at(ring, doc, 11, "second_visit = 2\n")  # back at the first place: it replaces the old entry
    edit_at(ring, doc, 80, "z")
    texts = [site.text for site in ring.ring]
    assert len(texts) == 2 and "elsewhere" in texts[0] and "second_visit" in texts[1]
    assert "first_visit" in texts[1]  # the place as it reads now
    rewritten = "".join(f"rewritten_{i} = {i}\n" for i in range(8))
    edit_at(ring, doc, ring.ring[0].first, rewritten)  # where "elsewhere" was typed
    edit_at(ring, doc, 90, "w")  # rewritten beyond resemblance, it is still that place: once in the ring
    assert "rewritten_0" in ring.ring[-1].text and sum("elsewhere" in site.text for site in ring.ring) == 1
    ring, doc, copy = RecentEdits(), numbered(URI), numbered(OTHER)
    edit_at(ring, doc, 40, "same = 1\n")
    edit_at(ring, copy, 40, "same = 1\n")  # the same lines in another document: a copy
    edit_at(ring, doc, 80, "x")
    assert [site.uri for site in ring.ring] == [OTHER]


def test_the_context_is_the_newest_that_fit_oldest_first_outside_the_window() -> None:
    ring, doc = RecentEdits(), numbered(URI)
    for line in (10, 30, 50, 70, 90):
        edit_at(ring, doc, line, f"edit_{line} = 1\n")
    texts = [site.text for site in ring.ring]  # 10, 30, 50, 70 (90 is where the user is)
    cost = words(texts[0])
    text, used = ring.context(URI, doc.lines, 90, 95, 2 * cost, words)
    assert text == texts[2] + texts[3] and used == words(texts[2]) + words(texts[3])
    text, _ = ring.context(URI, doc.lines, 60, 95, 2 * cost, words)  # 70 is in the window: left out
    assert text == texts[1] + texts[2]
    assert ring.context(URI, doc.lines, 90, 95, cost - 1, words) == ("", 0)
    assert ring.context(OTHER, numbered(OTHER).lines, 0, 100, 10 * cost, words)[0] == "".join(
        texts
    )  # another document's window


def test_closing_a_document_forgets_its_places() -> None:
    ring, doc, other = RecentEdits(), numbered(URI), numbered(OTHER, name="other")
    edit_at(ring, doc, 10, "x")
    edit_at(ring, other, 10, "y")
    edit_at(ring, doc, 60, "z")
    assert [site.uri for site in ring.ring] == [URI, OTHER]
    ring.forget(URI)
    assert [site.uri for site in ring.ring] == [OTHER] and ring.site is None


def test_off_the_prompt_is_the_one_without_the_ring() -> None:
    ring, doc = RecentEdits(), numbered(URI, 400)
    edit_at(ring, doc, 5, "far_above = 1\n")
    edit_at(ring, doc, 300, "x")
    assert ring.ring
    builder = PromptBuilder(TokenCounter(words), 512)

    def prompt(recent: RecentEdits | None, tokens: int) -> str:
        entry = OpenDocument(doc)
        return builder.build(entry, Cursor(300, 1), 16, [entry], 0, recent, tokens).prefix

    assert prompt(ring, 0) == prompt(None, 0) == prompt(RecentEdits(), 128)
    assert "far_above" in prompt(ring, 128) and "far_above" not in prompt(None, 0)


def test_the_prompt_start_stays_while_the_user_types_at_one_site() -> None:
    ring, doc = RecentEdits(), numbered(URI, 400)
    edit_at(ring, doc, 5, "far_above = 1\n")
    entry = OpenDocument(doc)
    builder = PromptBuilder(TokenCounter(words), 512)
    cursor = Cursor(300, 0)
    starts = []
    for typed in ["a", "b", "\n", "c"]:
        edit = doc.edit((cursor.line, cursor.column), (cursor.line, cursor.column), typed)
        ring.edited(URI, doc.lines, edit)
        cursor = Cursor(cursor.line + 1, 0) if typed == "\n" else Cursor(cursor.line, cursor.column + 1)
        prompt = builder.build(entry, cursor, 16, [entry], 0, ring, 128)
        assert "far_above" in prompt.context and prompt.recent_tokens > 0
        starts.append(prompt.prefix[: len(prompt.context) + 200])
    assert len(set(starts)) == 1


def test_copied_text_joins_the_ring_as_an_entry_with_no_place() -> None:
    ring, doc = RecentEdits(), numbered(URI)
    edit_at(ring, doc, 10, "x")
    edit_at(ring, doc, 60, "y")
    assert ring.copied("\n  \n" + COPY + "\n \n")  # the blank lines around it left out
    assert [site.uri for site in ring.ring] == [URI, None] and ring.ring[-1].text == COPY
    assert ring.version == 2
    ring.forget(URI)  # a document closed: what was copied stays
    assert [site.text for site in ring.ring] == [COPY]
    version = ring.version
    for text in [COPY, "", " \n\t ", "short_name", "x" * (MAX_COPIED + 1)]:  # the newest; too little; too much
        assert not ring.copied(text)
    assert ring.version == version  # the ring, and so the prompt, as they were


def test_a_long_copy_keeps_its_first_lines() -> None:
    ring = RecentEdits()
    assert ring.copied("".join(f"copied_{i} = {i}\n" for i in range(100)))
    assert ring.ring[0].text == "".join(f"copied_{i} = {i}\n" for i in range(CHUNK_LINES))
    assert ring.copied("data = '" + "y" * 10_000 + "'")
    assert len(ring.ring[-1].text) == COPIED_CHARS + 1 and ring.ring[-1].text.endswith("\n")


def test_copies_and_edited_regions_push_out_older_entries_like_them() -> None:
    ring, doc = RecentEdits(), numbered(URI)
    edit_at(ring, doc, 10, "edited = 1\n")
    edit_at(ring, doc, 30, "x")
    edit_at(ring, doc, 60, "y")
    region, other = (site.text for site in ring.ring)
    assert ring.copied(region)  # a region left, copied: one entry, the newest
    assert [site.text for site in ring.ring] == [other, region] and ring.ring[-1].uri is None
    assert ring.copied(COPY) and ring.copied(region)  # no longer the newest: it moves up
    assert [site.text for site in ring.ring] == [other, COPY, region]
    edit_at(ring, doc, 11, "again = 2\n")  # back at that region, edited and left: it replaces the copy
    edit_at(ring, doc, 90, "z")
    texts = [site.text for site in ring.ring]
    assert texts[:2] == [other, COPY] and region not in texts and "again = 2" in texts[-1]


def test_a_copy_the_window_shows_is_left_out() -> None:
    ring, doc = RecentEdits(), numbered(URI)
    shown = "40 = 40\n    line_41 = 41\n"  # from the middle of line 40, indented otherwise
    assert ring.copied(shown) and ring.copied(COPY)
    assert ring.context(URI, doc.lines, 30, 50, 100, words)[0] == COPY
    assert ring.context(URI, doc.lines, 60, 90, 100, words)[0] == ring.ring[0].text + COPY


def test_copied_text_is_placed_as_the_edited_regions_are() -> None:
    """After the regions older than it (newest last), and there it stays while the user types."""
    ring, doc = RecentEdits(), numbered(URI, 400)
    edit_at(ring, doc, 5, "far_above = 1\n")
    edit_at(ring, doc, 300, "x")
    entry, builder = OpenDocument(doc), PromptBuilder(TokenCounter(words), 512)
    before = builder.build(entry, Cursor(300, 1), 16, [entry], 0, ring, 128)
    ring.copied(COPY)
    for column in (1, 2):
        edit_at(ring, doc, 300, "x")
        prompt = builder.build(entry, Cursor(300, column), 16, [entry], 0, ring, 128)
        assert prompt.context == before.context + COPY and prompt.prefix.startswith(prompt.context)


def test_an_edit_reports_the_lines_it_touched() -> None:
    doc = numbered(URI, 10)
    assert doc.edit((3, 0), (3, 0), "x") == LineEdit(3, 3, 3)
    assert doc.edit((3, 0), (3, 0), "a\nb\n") == LineEdit(3, 3, 5)
    assert doc.edit((2, 0), (5, 0), "") == LineEdit(2, 5, 2)


# --- the real server --------------------------------------------------------------------------------


async def edit_top_then_bottom(client: LanguageClient) -> None:
    """An edit in `first`'s body, then the user goes to the bottom and types there."""
    open_doc(client, LONG, URI)
    insert(client, *TOP, "marker_edit = 7\n    ", version=2, uri=URI)
    insert(client, *BOTTOM, "v", version=3, uri=URI)
    await inline(client, BOTTOM[0], 1, URI)


@pytest.mark.asyncio
@pytest.mark.parametrize("on", [True, False])
async def test_the_prompt_carries_the_region_edited_before(
    client: LanguageClient, wide_model: Path, capfd: pytest.CaptureFixture[str], on: bool
) -> None:
    await start(client, wide_model, recentEdits=on, crossFile=False)
    await edit_top_then_bottom(client)
    figures = await metrics(client)
    assert figures["modelCalls"] == 1
    assert figures["recentEditPrompts"] == int(on)
    placed = PLACED.findall(capfd.readouterr().err)
    if on:
        [text] = placed
        assert "marker_edit = 7" in text and "def first(a):" in text
    else:
        assert placed == []


@pytest.mark.asyncio
async def test_typing_on_at_the_new_site_reuses_the_prompt_with_the_regions(
    client: LanguageClient, wide_model: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    await start(client, wide_model, recentEdits=True, crossFile=False)
    await edit_top_then_bottom(client)
    before = await metrics(client)
    line, column = BOTTOM[0], 1
    for version, char in enumerate("al", 4):
        insert(client, line, column, char, version=version, uri=URI)
        column += 1
        await inline(client, line, column, URI)
    after = await metrics(client)
    calls = after["modelCalls"] - before["modelCalls"]
    assert calls >= 1 and after["recentEditPrompts"] - before["recentEditPrompts"] == calls
    prompt = after["promptTokens"] - before["promptTokens"]
    reused = after["reusedTokens"] - before["reusedTokens"]
    assert reused >= prompt - 4 * calls  # all but the last few tokens: the regions stayed in place
    assert len(PLACED.findall(capfd.readouterr().err)) == 1  # chosen once, when the user moved there


@pytest.mark.asyncio
async def test_a_budget_too_small_for_any_region_adds_none(client: LanguageClient, wide_model: Path) -> None:
    await start(client, wide_model, recentEdits=True, recentEditsTokens=2, crossFile=False)
    await edit_top_then_bottom(client)
    assert (await metrics(client))["recentEditPrompts"] == 0


def copy(client: LanguageClient, text: str) -> None:
    client.protocol.notify(COPIED, {"text": text})


@pytest.mark.asyncio
@pytest.mark.parametrize("on", [True, False])
async def test_the_prompt_carries_the_text_copied_before(
    client: LanguageClient, wide_model: Path, capfd: pytest.CaptureFixture[str], on: bool
) -> None:
    await start(client, wide_model, recentEdits=on, crossFile=False)
    open_doc(client, LONG, URI)
    copy(client, COPY)
    copy(client, COPY)  # again: the newest entry already
    copy(client, "value_240 = 240\nvalue_241 = 241\n")  # from near the bottom: the window shows it
    insert(client, *BOTTOM, "v", version=2, uri=URI)
    await inline(client, BOTTOM[0], 1, URI)
    figures = await metrics(client)
    assert figures["copiedTexts"] == 2 * on and figures["recentEditPrompts"] == int(on)
    assert PLACED.findall(capfd.readouterr().err) == ([repr(COPY)] if on else [])


@pytest.mark.asyncio
async def test_bad_copies_are_ignored(tiny_model: Path, capfd: pytest.CaptureFixture[str]) -> None:
    server = await RawServer.start("--model", str(tiny_model))
    try:
        await server.initialize({**OPTIONS, "recentEdits": True})
        refused = [None, {}, {"text": None}, {"text": 42}, {"text": [COPY]}]
        for params in [*refused, {"text": " \n "}, {"text": "x" * (MAX_COPIED + 1)}]:
            server.send({"jsonrpc": "2.0", "method": COPIED, "params": params})
        # A notification sent as a request is refused, as LSP's own are.
        server.send({"jsonrpc": "2.0", "id": 7, "method": COPIED, "params": {"text": COPY}})
        assert (await server.response(7))["error"]["code"] == types.ErrorCodes.InvalidRequest
        server.send({"jsonrpc": "2.0", "method": COPIED, "params": {"text": COPY}})
        server.send({"jsonrpc": "2.0", "id": 8, "method": "santa/metrics", "params": {}})
        assert (await server.response(8))["result"]["copiedTexts"] == 1
    finally:
        await server.close()
    assert capfd.readouterr().err.count(f"invalid params for {COPIED}") == len(refused)
