"""`santa-lsp bench --quality`: keystrokes saved, typing held-out code through the real server.

A simulated user re-types regions of held-out files (whole lines and 2-4 line blocks inside
function bodies, and the ends of lines from a mid-line position) into the server over stdio,
the rest of the file present. After every keystroke it asks for an inline completion. When
the suggestion starts with what it is about to type it accepts all of it, or else the matching
part cut back to a word boundary (VS Code's accept-word, Neovim's partial accept); one accept
is one keystroke. The indentation an editor inserts after a newline is free.

quality mode waits for every answer, with no time budget, so only what is suggested counts. realtime mode types at
human speed and a suggestion counts only if it arrived before the next keystroke. Both report the
latency of the answer (a suggestion or none) to the request right after a whole suggestion is
accepted, and of the one after the Enter that follows such an accept at the end of a line (the
next suggestion, mostly: what `prefetchNext` is for).

Each region is typed into a document of its own, opened fresh; with `--multi-site`, a file's
regions (those that do not overlap) are all taken out of one document and typed back into it
one after the other, in a shuffled order: a user editing several places of a file, for what the
server remembers of the places edited before (setting `recentEdits`).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import random
import re
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from santa_lsp.bench import pct, server_command, start_server, stop_server
from santa_lsp.settings import DTYPES
from santa_lsp.situation import BRACKET_LINES, Situation, open_brackets
from santa_lsp.syntax import SUFFIXES, breaks_line, is_word_char

HELDOUT = Path(__file__).parent / "heldout"
LANGUAGES = {suffix: SUFFIXES[suffix] for suffix in (".py", ".java", ".js")}  # the held-out set's
SPLITS = ("tune", "report", "all")
KINDS = ("line", "block", "midline")
_CONTROL = frozenset({"if", "for", "while", "switch", "catch", "else", "try", "do", "finally", "synchronized", "}"})
_NOT_CODE = ("#", "//", "/*", "*", '"""', "'''")
# Human typing (realtime mode): inter-key gaps log-normal around 160 ms, a longer pause to
# think at the start of each new line.
KEY_GAP_S, KEY_SIGMA = 0.16, 0.45
LINE_PAUSE_S, LINE_SIGMA = 0.9, 0.6


@dataclass(frozen=True)
class Region:
    """`typed` is removed from the file (between `before` and `after`) and typed back."""

    name: str
    language: str
    kind: str
    before: str
    typed: str
    after: str
    free: frozenset[int]  # indices of `typed` an editor's auto-indent inserts

    @property
    def chars(self) -> int:
        return len(self.typed) - len(self.free)


@dataclass(frozen=True)
class Session:
    """One document, opened with `text`; `regions` typed back into it in order; then closed.
    Each region's `before` and `after` are the document's text around it when its turn comes."""

    text: str
    regions: tuple[Region, ...]


@dataclass
class Tally:
    chars: int = 0
    keystrokes: int = 0
    requests: int = 0
    shown: int = 0
    accepted_full: int = 0
    accepted_partial: int = 0
    junk_loop: int = 0
    junk_broken: int = 0
    late: int = 0  # realtime: answered after the next keystroke
    latencies_ms: list[float] = field(default_factory=list)  # of the suggestions shown (came in time)
    shown_at: list[int] = field(default_factory=list)  # where each was shown: characters of the region typed
    after_accept_ms: list[float] = field(default_factory=list)  # of every answer asked right after a whole accept
    after_enter_ms: list[float] = field(default_factory=list)  # of every answer asked after an accept and Enter
    after_enter_shown: int = 0  # of those, the answers with a suggestion

    def add(self, other: Tally) -> None:
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)

    def summary(self) -> dict[str, Any]:
        shown = max(1, self.shown)
        accepted = self.accepted_full + self.accepted_partial
        junk = self.junk_loop + self.junk_broken
        return {
            "chars": self.chars, "keystrokes": self.keystrokes, "requests": self.requests,
            "keystrokes_saved": 1 - self.keystrokes / max(1, self.chars),
            "shown": self.shown, "accepted_full": self.accepted_full, "accepted_partial": self.accepted_partial,
            "shown_not_accepted": self.shown - accepted, "shown_not_accepted_rate": (self.shown - accepted) / shown,
            "junk": junk, "junk_loop": self.junk_loop, "junk_broken": self.junk_broken, "junk_rate": junk / shown,
            "late": self.late,
            "p50_ms": pct(self.latencies_ms, 50) if self.latencies_ms else None,
            "p95_ms": pct(self.latencies_ms, 95) if self.latencies_ms else None,
            "after_accept": len(self.after_accept_ms),
            "after_accept_p50_ms": pct(self.after_accept_ms, 50) if self.after_accept_ms else None,
            "after_enter": len(self.after_enter_ms), "after_enter_shown": self.after_enter_shown,
            "after_enter_p50_ms": pct(self.after_enter_ms, 50) if self.after_enter_ms else None,
            "after_enter_p95_ms": pct(self.after_enter_ms, 95) if self.after_enter_ms else None,
            # Every one, for shares such as "within 20 ms" (the target of prefetchNext).
            "after_accept_ms": sorted(round(ms, 1) for ms in self.after_accept_ms),
            "after_enter_ms": sorted(round(ms, 1) for ms in self.after_enter_ms),
        }  # fmt: skip


# --- the held-out set and its regions ----------------------------------------------------------


def heldout_files(paths: Sequence[str], split: str) -> list[Path]:
    """Source files of the known languages under `paths`; each language's files sorted by
    name and alternately given to the tune and report splits."""
    found = sorted(
        file for path in map(Path, paths) for file in ([path] if path.is_file() else path.rglob("*"))
        if file.is_file() and file.suffix in LANGUAGES
    )  # fmt: skip
    chosen = []
    for suffix in LANGUAGES:
        files = [file for file in found if file.suffix == suffix]
        chosen += [f for i, f in enumerate(files) if split == "all" or SPLITS[i % 2] == split]
    return chosen


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _is_header(code: str, language: str) -> bool:
    if language == "python":
        return code.startswith(("def ", "async def "))
    first = code.split("(", 1)[0].split()
    return code.endswith("{") and "(" in code and bool(first) and first[0] not in _CONTROL


def body_lines(lines: Sequence[str], language: str) -> list[int]:
    """Lines of code inside function bodies: no blank, comment, docstring or closer-only line."""
    body: list[int] = []
    header_indent: int | None = None
    in_docstring = False
    for i, line in enumerate(lines):
        code = line.strip()
        if not code:
            continue
        if header_indent is not None and _indent(line) <= header_indent:
            header_indent = None
        if _is_header(code, language):
            header_indent = _indent(line)
            continue
        quotes = code.count('"""') + code.count("'''")
        if in_docstring or quotes:
            in_docstring = in_docstring != (quotes % 2 == 1)
            continue
        if header_indent is not None and not code.startswith(_NOT_CODE) and not set(code) <= set(")]};,"):
            body.append(i)
    return body


def _midline_column(line: str, rng: random.Random) -> int | None:
    start = _indent(line)
    columns = [
        j for j in range(start + 1, len(line) - 2)
        if not is_word_char(line[j - 1]) and not line[j].isspace()
    ]  # fmt: skip
    return rng.choice(columns) if columns else None


def pick_regions(name: str, text: str, language: str, per_kind: int, seed: int) -> list[Region]:
    """`per_kind` regions of each kind, chosen reproducibly (the seed and the file's name)."""
    lines = text.split("\n")
    body = body_lines(lines, language)
    rng = random.Random(f"{seed}:{name}")
    pool = rng.sample(body, len(body))
    regions: list[Region] = []
    for kind in KINDS:
        taken = 0
        while pool and taken < per_kind:
            i = pool.pop()
            region = _region(name, lines, language, kind, i, set(body), rng)
            if region is not None:
                regions.append(region)
                taken += 1
    return regions


def _region(
    name: str, lines: list[str], language: str, kind: str, i: int, body: set[int], rng: random.Random
) -> Region | None:
    line = lines[i]
    column = _indent(line)
    last = i
    if kind == "midline":
        found = _midline_column(line, rng)
        if found is None:
            return None
        column = found
    elif kind == "block":
        last = i + rng.randint(1, 3)
        if not all(j in body for j in range(i, last + 1)):
            return None
    before = "".join(f"{text}\n" for text in lines[:i]) + line[:column]
    typed = "\n".join([line[column:], *lines[i + 1 : last + 1]])
    after = "".join(f"\n{text}" for text in lines[last + 1 :])
    return Region(name, language, kind, before, typed, after, auto_indent(typed))


def one_per_document(regions: Sequence[Region]) -> list[Session]:
    return [Session(region.before + region.after, (region,)) for region in regions]


def multi_site(regions: Sequence[Region], seed: int) -> Session:
    """Regions of one file (as pick_regions gives them) typed back into one document: those that
    overlap no earlier one, all taken out at first, typed back in an order shuffled by the seed."""
    spans: list[tuple[int, Region]] = []
    for region in sorted(regions, key=lambda r: len(r.before)):
        start = len(region.before)
        if not spans or start > len(spans[-1][1].before) + len(spans[-1][1].typed):
            spans.append((start, region))
    text = regions[0].before + regions[0].typed + regions[0].after
    order = random.Random(f"{seed}:{regions[0].name}:order").sample(range(len(spans)), len(spans))
    missing = set(range(len(spans)))

    def present(begin: int, end: int) -> str:
        """text[begin:end] without the regions still missing from the document."""
        parts, at = [], begin
        for i, (start, region) in enumerate(spans):
            if i in missing and begin <= start < end:
                parts.append(text[at:start])
                at = start + len(region.typed)
        return "".join(parts) + text[at:end]

    opened = present(0, len(text))
    typed = []
    for i in order:
        start, region = spans[i]
        missing.discard(i)
        end = start + len(region.typed)
        typed.append(dataclasses.replace(region, before=present(0, start), after=present(end, len(text))))
    return Session(opened, tuple(typed))


def auto_indent(typed: str) -> frozenset[int]:
    """The indentation that starts each line after the first: an editor inserts it."""
    free: set[int] = set()
    start = typed.find("\n") + 1
    while start > 0:
        end = start
        while end < len(typed) and typed[end] in " \t":
            end += 1
        free.update(range(start, end))
        start = typed.find("\n", end) + 1
    return frozenset(free)


# --- the simulated user -------------------------------------------------------------------------


def accepted_length(suggestion: str, remaining: str) -> int:
    """What the user accepts of `suggestion` when `remaining` is what they are about to type."""
    if remaining.startswith(suggestion):
        return len(suggestion)
    same = 0
    while same < min(len(suggestion), len(remaining)) and suggestion[same] == remaining[same]:
        same += 1
    # Accept-word stops at word boundaries: the matching part cut back to the last one.
    while same > 0 and is_word_char(suggestion[same - 1]) and is_word_char(suggestion[same]):
        same -= 1
    return same if same > 1 else 0  # accepting one character saves nothing


_REPEATED = re.compile(r"(.{2,40}?)\1{2,}", re.DOTALL)


def is_loop(text: str) -> bool:
    """A piece with a letter or digit written three times in a row, or a line written twice."""
    if any(any(c.isalnum() for c in match.group(1)) for match in _REPEATED.finditer(text)):
        return True
    lines = [line.strip() for line in text.split("\n")]
    return any(a == b and len(a) >= 3 for a, b in itertools.pairwise(lines))


def junk_kind(suggestion: str, document_before: str, language: str) -> str | None:
    """'loop', 'broken' (leaves the line syntactically broken) or None."""
    if is_loop(suggestion):
        return "loop"
    left = document_before[document_before.rfind("\n") + 1 :]
    above = "".join(document_before.split("\n")[-BRACKET_LINES - 1 : -1])
    situation = Situation(left, "", (), False, 0, open_brackets(above + left))
    return "broken" if breaks_line(language, situation, suggestion) else None


async def type_session(client: LanguageClient, session: Session, rng: random.Random | None) -> list[Tally]:
    """Each region's tally, in the session's order."""
    first = session.regions[0]
    uri = _uri(first)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, first.language, 1, session.text))
    )
    tallies, version = [], 1
    for region in session.regions:
        typist = Typist(client, region, Tally(), rng, version)
        await typist.run()
        tallies.append(typist.tally)
        version = typist.version
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    return tallies


def _uri(region: Region) -> str:
    return f"file:///heldout/{region.name}"


class Typist:
    """One region typed into a document open in one server (at `version`): the cursor and the tally."""

    def __init__(
        self, client: LanguageClient, region: Region, tally: Tally, rng: random.Random | None, version: int = 1
    ) -> None:
        self.client, self.region, self.tally, self.rng = client, region, tally, rng
        self.uri = _uri(region)
        self.done = 0  # characters of region.typed in the document
        self.version = version
        self.line = region.before.count("\n")
        self.left = region.before[region.before.rfind("\n") + 1 :]  # the cursor line, left of the cursor
        self.dropped: list[asyncio.Future[tuple[str, float]]] = []  # realtime: answers that came too late
        # Where the last keystrokes leave the user: "accepted" a whole suggestion, or "enter" right
        # after such an accept; None otherwise.
        self.after: str | None = None

    async def run(self) -> None:
        region = self.region
        self.tally.chars += region.chars
        while True:
            self._insert_free()
            if self.done >= len(region.typed):
                break
            suggestion = await self._visible(asyncio.ensure_future(self._ask()))
            if suggestion and self._judge(suggestion):
                continue
            key = region.typed[self.done]
            self._insert(key)
            self.tally.keystrokes += 1
            self.after = "enter" if self.after == "accepted" and key == "\n" else None
        await asyncio.gather(*self.dropped)

    async def _visible(self, request: asyncio.Future[tuple[str, float]]) -> str:
        """The suggestion on screen at the next keystroke (its latency is a shown one's)."""
        if self.rng is None:  # quality mode: every answer is waited for
            return self._shown(*await request)
        at_line_start = not self.left.strip()
        gap = self.rng.lognormvariate(0, KEY_SIGMA) * KEY_GAP_S
        if at_line_start:
            gap += self.rng.lognormvariate(0, LINE_SIGMA) * LINE_PAUSE_S
        started = time.perf_counter()
        done, _ = await asyncio.wait({request}, timeout=gap)
        if not done:
            # The editor ignores an answer for a position the user has left (its answer is
            # awaited later only so that no request is left running).
            self.tally.late += 1
            self.dropped.append(request)
            return ""
        await asyncio.sleep(max(0.0, gap - (time.perf_counter() - started)))  # the user's pace, not the server's
        return self._shown(*request.result())

    def _shown(self, text: str, elapsed_ms: float) -> str:
        if text:
            self.tally.latencies_ms.append(elapsed_ms)
            self.tally.shown_at.append(self.done)
        return text

    def _judge(self, suggestion: str) -> bool:
        """Count a shown suggestion; accept what matches. True when something was accepted."""
        region, tally = self.region, self.tally
        tally.shown += 1
        take = accepted_length(suggestion, region.typed[self.done :])
        if take == len(suggestion):
            tally.accepted_full += 1
        else:
            kind = junk_kind(suggestion, region.before + region.typed[: self.done], region.language)
            tally.junk_loop += kind == "loop"
            tally.junk_broken += kind == "broken"
            tally.accepted_partial += take > 0
        if take:
            self._insert(region.typed[self.done : self.done + take])
            tally.keystrokes += 1
        self.after = "accepted" if take == len(suggestion) else None
        return take > 0

    def _insert_free(self) -> None:
        end = self.done
        while end < len(self.region.typed) and end in self.region.free:
            end += 1
        if end > self.done:
            self._insert(self.region.typed[self.done : end], typed=False)

    def _insert(self, text: str, typed: bool = True) -> None:
        where = types.Position(self.line, _utf16(self.left))
        change = types.TextDocumentContentChangePartial(range=types.Range(where, where), text=text)
        self.version += 1
        identifier = types.VersionedTextDocumentIdentifier(version=self.version, uri=self.uri)
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(identifier, [change]))
        self.done += len(text)
        self.line += text.count("\n")
        self.left = self.left + text if "\n" not in text else text[text.rfind("\n") + 1 :]

    async def _ask(self) -> tuple[str, float]:
        params = types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
            text_document=types.TextDocumentIdentifier(self.uri),
            position=types.Position(self.line, _utf16(self.left)),
        )
        started, after = time.perf_counter(), self.after
        self.tally.requests += 1
        result = await self.client.text_document_inline_completion_async(params)
        elapsed = 1000 * (time.perf_counter() - started)
        items = result.items if isinstance(result, types.InlineCompletionList) else []
        text = str(items[0].insert_text) if items else ""
        if after == "accepted":
            self.tally.after_accept_ms.append(elapsed)
        elif after == "enter":
            self.tally.after_enter_ms.append(elapsed)
            self.tally.after_enter_shown += bool(text)
        return text, elapsed


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# --- a run: every setting on the same regions, interleaved ----------------------------------------


@dataclass
class Arm:
    label: str
    options: dict[str, Any]
    tallies: dict[str, Tally] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    per_region: list[tuple[int, int]] = field(default_factory=list)  # (chars, keystrokes), in region order
    shown_per_region: list[dict[int, float]] = field(default_factory=list)  # latency shown at each place, by region
    program: list[str] | None = None  # another server than this santa-lsp (a baseline)


async def run(args: argparse.Namespace, sessions: list[Session], arms: list[Arm]) -> None:
    clients = [await start_server(server_command(args.model, args.dtype, program=arm.program),
                                  server_options(arm.options, args.realtime)) for arm in arms]  # fmt: skip
    rng = random.Random(args.seed) if args.realtime else None
    total, typed = sum(len(session.regions) for session in sessions), 0
    try:
        for session in sessions:
            for arm, client in zip(arms, clients, strict=True):
                for region, tally in zip(session.regions, await type_session(client, session, rng), strict=True):
                    arm.tallies.setdefault(region.language, Tally()).add(tally)
                    arm.per_region.append((tally.chars, tally.keystrokes))
                    arm.shown_per_region.append(dict(zip(tally.shown_at, tally.latencies_ms, strict=True)))
            typed += len(session.regions)
            if typed // 10 > (typed - len(session.regions)) // 10 or typed == total:
                print(f"  {typed}/{total} regions typed", file=sys.stderr, flush=True)
    finally:
        for arm, client in zip(arms, clients, strict=True):
            arm.metrics = await stop_server(client)


def server_options(options: dict[str, Any], realtime: bool) -> dict[str, Any]:
    """An arm's settings as its server gets them. Quality mode waits for every answer, so no time
    budget cuts a generation short there: the figures do not depend on how busy the machine is
    (an arm may still set `timeBudgetMs`)."""
    return options if realtime else {"timeBudgetMs": 0, **options}


def results(args: argparse.Namespace, sessions: list[Session], arms: list[Arm]) -> dict[str, Any]:
    regions = [region for session in sessions for region in session.regions]
    out = []
    for arm in arms:
        overall = Tally()
        for tally in arm.tallies.values():
            overall.add(tally)
        languages = {language: tally.summary() for language, tally in sorted(arm.tallies.items())}
        summary = {**overall.summary(), "keystrokes_saved_ci95": saved_interval([arm.per_region])}
        # (chars, keystrokes) per region, in region order: any two arms of the run can be paired later.
        out.append({"label": arm.label, "options": arm.options, "overall": summary, "languages": languages,
                    "server_metrics": arm.metrics, "per_region": arm.per_region})  # fmt: skip
        if arm is not arms[0]:
            difference = _saved(arm.per_region) - _saved(arms[0].per_region)
            out[-1]["saved_vs_first"] = {"difference": difference,
                                         "ci95": saved_interval([arm.per_region, arms[0].per_region])}  # fmt: skip
            out[-1]["shown_vs_first"] = shown_at_same_places(arms[0], arm)
    kinds = {kind: sum(r.kind == kind for r in regions) for kind in KINDS}
    return {
        "mode": "realtime" if args.realtime else "quality", "multi_site": args.multi_site, "model": args.model,
        "dtype": args.dtype,
        "split": args.split, "files": len({r.name for r in regions}), "regions": len(regions),
        "region_kinds": kinds, "seed": args.seed, "arms": out,
    }  # fmt: skip


def shown_at_same_places(first: Arm, other: Arm) -> dict[str, Any]:
    """The latency of the suggestions two arms both showed at the same places (region, characters
    typed): an arm that shows more suggestions adds slower ones, which moves its own median."""
    pairs = [
        (mine[place], theirs[place])
        for mine, theirs in zip(first.shown_per_region, other.shown_per_region, strict=True)
        for place in mine.keys() & theirs.keys()
    ]  # fmt: skip
    first_ms, other_ms = [a for a, _ in pairs], [b for _, b in pairs]
    return {
        "places": len(pairs),
        "p50_ms_first": pct(first_ms, 50) if pairs else None,
        "p50_ms": pct(other_ms, 50) if pairs else None,
    }


def _saved(pairs: Sequence[tuple[int, int]]) -> float:
    return 1 - sum(k for _, k in pairs) / max(1, sum(c for c, _ in pairs))


def saved_interval(arms: Sequence[Sequence[tuple[int, int]]], rounds: int = 2000) -> list[float]:
    """95% bootstrap interval over regions: of keystrokes saved for one arm, or of the
    difference between two arms typed on the same regions (resampled together, paired)."""
    rng = random.Random(0)
    n = len(arms[0])
    values = []
    for _ in range(rounds):
        picks = [rng.randrange(n) for _ in range(n)]
        saved = [_saved([pairs[i] for i in picks]) for pairs in arms]
        values.append(saved[0] - saved[1] if len(saved) == 2 else saved[0])
    values.sort()
    return [values[int(0.025 * rounds)], values[int(0.975 * rounds) - 1]]


def table(result: dict[str, Any]) -> str:
    rows = [
        f"{result['mode']} mode{', multi-site' if result['multi_site'] else ''}, split {result['split']}: "
        f"{result['files']} files, {result['regions']} regions "
        f"({', '.join(f'{n} {kind}' for kind, n in result['region_kinds'].items())})",
        f"{'setting':<32} {'language':<11} {'chars':>6} {'saved':>6} {'shown':>6} {'acc.full':>8} {'partial':>7} "
        f"{'not acc.':>8} {'junk':>10} {'late':>5} {'p50 ms':>7} {'p95 ms':>7} {'after acc.':>10} {'p50 ms':>7} "
        f"{'then Enter':>10} {'shown':>5} {'p50 ms':>7}",
    ]
    for arm in result["arms"]:
        for language, s in [*arm["languages"].items(), ("overall", arm["overall"])]:
            junk = f"{s['junk']} {s['junk_rate']:.1%}"
            rows.append(
                f"{arm['label'][:32]:<32} {language:<11} {s['chars']:>6} {s['keystrokes_saved']:>6.1%} {s['shown']:>6} "
                f"{s['accepted_full']:>8} {s['accepted_partial']:>7} {s['shown_not_accepted_rate']:>8.1%} "
                f"{junk:>10} {s['late']:>5} {_ms(s['p50_ms']):>7} {_ms(s['p95_ms']):>7} "
                f"{s['after_accept']:>10} {_ms(s['after_accept_p50_ms']):>7} "
                f"{s['after_enter']:>10} {s['after_enter_shown']:>5} {_ms(s['after_enter_p50_ms']):>7}"
            )
    return "\n".join(rows + [_interval_row(arm, result["arms"][0]["label"]) for arm in result["arms"]])


def _interval_row(arm: dict[str, Any], first: str) -> str:
    lo, hi = arm["overall"]["keystrokes_saved_ci95"]
    row = f"{arm['label'][:32]:<32} saved {arm['overall']['keystrokes_saved']:.1%} (95% CI {lo:.1%} .. {hi:.1%})"
    if "saved_vs_first" in arm:
        difference, (low, high) = arm["saved_vs_first"]["difference"], arm["saved_vs_first"]["ci95"]
        row += f"; vs {first[:32]}: {100 * difference:+.1f} points (95% CI {100 * low:+.1f} .. {100 * high:+.1f})"
        same = arm["shown_vs_first"]
        row += f"; shown p50 at the {same['places']} places both showed one: {_ms(same['p50_ms'])} ms"
        row += f" (vs {_ms(same['p50_ms_first'])} ms)"
    return row


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def parse_arms(specs: Sequence[str]) -> list[Arm]:
    arms = []
    for spec in specs or ["{}"]:
        options = json.loads(spec)
        if not isinstance(options, dict):
            raise ValueError(f"--settings {spec!r}: expected a JSON object of server settings")
        arms.append(Arm(json.dumps(options, separators=(",", ":")) if options else "default", options))
    return arms


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="santa-lsp bench --quality", description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", help=f"files or directories (default: the held-out set, {HELDOUT})")
    parser.add_argument("--model", required=True, help="model directory or Hub id")
    parser.add_argument("--dtype", default="auto", choices=DTYPES)
    parser.add_argument("--split", choices=SPLITS, help="default: report for the held-out set, all for paths")
    parser.add_argument("--per-kind", type=int, default=3, help="regions of each kind per file (default 3)")
    parser.add_argument("--max-files", type=int, help="at most this many files per language")
    parser.add_argument("--seed", type=int, default=0, help="region choice and typing rhythm")
    parser.add_argument("--realtime", action="store_true", help="type at human speed (default: quality mode)")
    parser.add_argument(
        "--multi-site", action="store_true",
        help="type each file's regions into one document, one after the other (default: one document per region)",
    )  # fmt: skip
    parser.add_argument(
        "--settings", action="append", default=[], metavar="JSON",
        help="server settings of one arm, e.g. '{\"minTokenProb\": 0.1}'; repeat to compare arms on the same regions",
    )  # fmt: skip
    parser.add_argument(
        "--baseline-command", metavar="CMD",
        help="also run this server (shell words) with its default settings, as the first arm, the one every "
        "other is compared with; for an older checkout: 'env PYTHONPATH=DIR python -P -m santa_lsp.cli' "
        "(-P: the working directory's santa_lsp must not win)",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    args.split = args.split or ("all" if args.paths else "report")
    try:
        arms = parse_arms(args.settings)
        if args.baseline_command:
            arms.insert(0, Arm("baseline", {}, program=shlex.split(args.baseline_command)))
    except ValueError as exc:
        parser.error(str(exc))
    files = heldout_files(args.paths or [str(HELDOUT)], args.split)
    if args.max_files:
        files = [f for suffix in LANGUAGES for f in [g for g in files if g.suffix == suffix][: args.max_files]]
    picked = [
        pick_regions(_name(file), file.read_text(encoding="utf-8"), LANGUAGES[file.suffix], args.per_kind, args.seed)
        for file in files
    ]
    if not any(picked):
        print("santa-lsp bench: no function bodies to type in the given files", file=sys.stderr)
        return 2
    if args.multi_site:
        sessions = [multi_site(regions, args.seed) for regions in picked if regions]
    else:
        sessions = one_per_document([region for regions in picked for region in regions])
    asyncio.run(run(args, sessions, arms))
    result = results(args, sessions, arms)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def _name(file: Path) -> str:
    return f"{LANGUAGES[file.suffix]}/{file.name}"
