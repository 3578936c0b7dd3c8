"""Recently edited regions, as prompt context: what the user just changed in one place often
matters where they edit next (llama.vim keeps a ring of such chunks, Continue its recently
edited ranges).

The workspace keeps one ring. Edits near each other make one *site*, the place the user is
editing now: it is in the prompt window already, so it is never context. When an edit lands
elsewhere, the site the user left (its edited lines and a few around them, as they read at that
moment) goes into the ring, newest last, and pushes out any older entry it overlaps or resembles
(Jaccard index of their sets of lines), so a place edited twice is there once. The ring thus
changes when the user moves on, not at every keystroke; the prompt builder takes its newest
entries that fit a token budget and places them oldest first, after the cross-file context
(santa_lsp/prompt.py), so the start of the prompt stays the same while the user types in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from santa_lsp.crossfile import CHUNK_LINES, chunk_text, fit, jaccard
from santa_lsp.documents import LineEdit

AROUND = 3  # lines kept above and below a site's edited lines; an edit this close joins the site
RING_SIZE = 8  # entries kept: more than any budget of a few hundred tokens holds
SIMILAR = 0.5  # line-set Jaccard index from which a newer entry replaces an older one


@dataclass
class Site:
    """Lines `first`..`last` of a document, kept where they are as lines above are added or
    removed; `text` is what they (and AROUND lines either side) read when last looked at."""

    uri: str
    first: int
    last: int
    text: str = ""

    def overlaps(self, uri: str, first: int, last: int) -> bool:
        return self.uri == uri and self.first <= last and first <= self.last

    def follow(self, edit: LineEdit) -> None:
        """Move with an edit of its document: below it, shift; across it, take in its lines."""
        if self.last < edit.first:
            return
        self.first = self.first + edit.shift if self.first > edit.last else min(self.first, edit.first)
        self.last = self.last + edit.shift if self.last >= edit.last else edit.new_last

    def read(self, lines: Sequence[str]) -> None:
        start = max(0, self.first - AROUND)
        end = min(len(lines), self.last + AROUND + 1, start + CHUNK_LINES)
        self.text = chunk_text(lines[start:end])


def line_set(text: str) -> frozenset[str]:
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


class RecentEdits:
    """The workspace's ring of recently edited regions (one per workspace: the user edits in one
    place at a time, whichever document it is in)."""

    def __init__(self) -> None:
        self.site: Site | None = None  # where the user edits now
        self.ring: list[Site] = []  # the sites left, oldest first
        self.version = 0  # changes whenever the ring does: the prompt's context is chosen again

    def edited(self, uri: str, lines: Sequence[str], edit: LineEdit) -> None:
        """An edit of document `uri`, whose lines are now `lines`."""
        for site in [*self.ring, *([self.site] if self.site else [])]:
            if site.uri == uri:
                site.follow(edit)
        site = self.site
        if site is None or not site.overlaps(uri, edit.first - AROUND, edit.new_last + AROUND):
            self._leave()
            site = self.site = Site(uri, edit.first, edit.new_last)
        else:
            site.first, site.last = min(site.first, edit.first), max(site.last, edit.new_last)
        site.read(lines)

    def forget(self, uri: str) -> None:
        """A document closed, or replaced whole: where its lines were is no longer known."""
        kept = [site for site in self.ring if site.uri != uri]
        if len(kept) != len(self.ring):
            self.ring = kept
            self.version += 1
        if self.site is not None and self.site.uri == uri:
            self.site = None

    def context(self, uri: str, first: int, last: int, budget: int, count: Callable[[str], int]) -> tuple[str, int]:
        """The newest entries that fit `budget` tokens, oldest first, leaving out those of lines
        `first`..`last` of `uri` (the prompt window has them already)."""
        outside = (site.text for site in reversed(self.ring) if not site.overlaps(uri, first, last))
        chosen, used = fit(outside, budget, count)
        return "".join(reversed(chosen)), used

    def _leave(self) -> None:
        """The user edits elsewhere now: the site they leave joins the ring."""
        left, self.site = self.site, None
        if left is None or not left.text.strip():
            return
        lines = line_set(left.text)
        self.ring = [
            site for site in self.ring
            if not site.overlaps(left.uri, left.first, left.last) and jaccard(lines, line_set(site.text)) < SIMILAR
        ]  # fmt: skip
        self.ring = [*self.ring, left][-RING_SIZE:]
        self.version += 1
