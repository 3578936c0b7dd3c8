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

Text the user copied (`santa/copied`: a yank in Neovim, the clipboard in VS Code; llama.vim keeps
yanked text in its ring, Continue the clipboard) joins the same ring as an entry with no place,
by the same rules. No edit moves it and closing a document keeps it; a window that shows the
text already (the user copied it from there, or pasted it there) leaves it out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from santa_lsp.crossfile import CHUNK_LINES, chunk_text, fit, jaccard
from santa_lsp.documents import LineEdit, split_lines

AROUND = 3  # lines kept above and below a site's edited lines; an edit this close joins the site
RING_SIZE = 8  # entries kept: more than any budget of a few hundred tokens holds
SIMILAR = 0.5  # line-set Jaccard index from which a newer entry replaces an older one
# Copied text: less is a word or a name, too little to help; and each copy taken changes the
# ring, which has the next prompt choose its context again (a new start, not reused from the cache).
MIN_COPIED = 16  # characters, surrounding whitespace left out
# More is a whole file copied, not a piece of code to reuse: ignored rather than cut to its top.
MAX_COPIED = 65_536  # characters
COPIED_CHARS = 2_000  # of what is kept (its first CHUNK_LINES lines): a few long lines at most


@dataclass
class Site:
    """Lines `first`..`last` of a document, kept where they are as lines above are added or
    removed; `text` is what they (and AROUND lines either side) read when last looked at.
    A site of no document (`uri` None) is text the user copied: it has no place."""

    uri: str | None
    first: int
    last: int
    text: str = ""

    @classmethod
    def copied(cls, text: str) -> Site:
        return cls(None, 0, 0, text)

    def overlaps(self, uri: str | None, first: int, last: int) -> bool:
        return self.uri is not None and self.uri == uri and self.first <= last and first <= self.last

    def shown(self, uri: str, first: int, last: int, window: str) -> bool:
        """Whether a prompt window of lines `first`..`last` of `uri`, which read `window` (flat),
        has this already: its lines, or for copied text, the text itself."""
        return flat(self.text) in window if self.uri is None else self.overlaps(uri, first, last)

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


def flat(text: str) -> str:
    """`text` with each line stripped: copied text and the place it was copied from or pasted
    to read the same this way, whatever the indentation and the line ends."""
    return "\n".join(line.strip() for line in text.splitlines())


def copied_chunk(text: str) -> str | None:
    """Copied text as an entry of the ring: its first lines, blank lines around them left out;
    None for too little or too much to be worth it."""
    if not MIN_COPIED <= len(text.strip()) <= MAX_COPIED:
        return None
    lines = split_lines(text.rstrip())
    first = next(index for index, line in enumerate(lines) if line.strip())
    return chunk_text(["".join(lines[first : first + CHUNK_LINES])[:COPIED_CHARS]])


class RecentEdits:
    """The workspace's ring of recently edited regions and copied text (one per workspace: the
    user edits in one place at a time, whichever document it is in)."""

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

    def copied(self, text: str) -> bool:
        """Text the user copied joins the ring. False when it does not: too little or too much
        (copied_chunk), or the newest entry already (the ring, and so the prompt, stay put)."""
        chunk = copied_chunk(text)
        if chunk is None or (self.ring and self.ring[-1].text == chunk):
            return False
        self._push(Site.copied(chunk))
        return True

    def context(
        self, uri: str, lines: Sequence[str], first: int, last: int, budget: int, count: Callable[[str], int]
    ) -> tuple[str, int]:
        """The newest entries that fit `budget` tokens, oldest first, leaving out those the prompt
        window, lines `first`..`last` of `uri` (whose lines are `lines`), has already: the regions
        of those lines, and copied text that reads as part of them."""
        window = flat("".join(lines[first : last + 1]))
        outside = (site.text for site in reversed(self.ring) if not site.shown(uri, first, last, window))
        chosen, used = fit(outside, budget, count)
        return "".join(reversed(chosen)), used

    def _leave(self) -> None:
        """The user edits elsewhere now: the site they leave joins the ring."""
        left, self.site = self.site, None
        if left is not None and left.text.strip():
            self._push(left)

    def _push(self, entry: Site) -> None:
        """`entry` joins the ring, newest, and pushes out the older entries of its lines or like it."""
        lines = line_set(entry.text)
        self.ring = [
            site for site in self.ring
            if not site.overlaps(entry.uri, entry.first, entry.last) and jaccard(lines, line_set(site.text)) < SIMILAR
        ]  # fmt: skip
        self.ring = [*self.ring, entry][-RING_SIZE:]
        self.version += 1
