"""Reading JSON-RPC frames from a byte stream, resynchronising after a bad one.

The server reads frames itself because pygls 2.1's reader cannot recover: it reads only `Content-Length: N\\r\\n`
written exactly so, and one frame it cannot read (a wrong length, a lowercase header, LF line ends, a length that
is not a number) leaves it out of step with the stream for good. FrameReader takes any header case, LF line ends
and spaces, and hands a broken frame on with its problem (santa_lsp/rpc.py answers it ParseError, with the id
salvage_id can read) before starting again at the next header.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import BinaryIO

CHUNK_BYTES = 1 << 16

HEADER = re.compile(rb"content-length[ \t]*:", re.IGNORECASE)
# A Content-Length line inside a body. No JSON text can hold one: a raw line break cannot stand inside a JSON
# string, and the header's letters cannot stand outside one. So finding one proves that the frame ended before its
# Content-Length said, and where the next frame starts. Bounded, so that a search can resume near where it stopped.
HEADER_IN_BODY = re.compile(rb'content-length[ \t]{0,8}:[^"\r\n]{0,40}\r?\n', re.IGNORECASE)
LONGEST_HEADER_IN_BODY = 14 + 8 + 1 + 40 + 2
# The first part of such a line, its end not arrived yet (shorter ones are prefixes of the name).
HEADER_SO_FAR = re.compile(rb'content-length[ \t]{0,8}(?::[^"\r\n]{0,40}\r?)?', re.IGNORECASE)
HEADER_FIELD = re.compile(rb"[A-Za-z0-9-]+[ \t]*:[^\r\n]*")
HEADER_LINES = re.compile(rb"(?:[ \t]*(?:[A-Za-z0-9-]+[ \t]*:[^\r\n]*)?\r?\n)*")
HEADER_START = re.compile(rb"[A-Za-z0-9-]*\Z|[A-Za-z0-9-]+[ \t]*:")  # a header field, or what may begin one
MAX_HEADER_BYTES = 4096  # Content-Length and Content-Type need a fraction of this
MAX_LENGTH_DIGITS = 12  # a terabyte; and Python refuses to read integers of more than 4300 digits
PEEK_BYTES = 32  # enough of what follows a body to see whether it is a header


@dataclass(frozen=True)
class Frame:
    """One message's bytes; or, with `problem` set, what arrived of a message that cannot be read."""

    body: bytes
    problem: str = ""
    # Bytes other than a header came right after the body: if the body is not JSON, it was cut short.
    overrun: bool = False


class FrameReader:
    """Cuts the client's byte stream into LSP frames, and finds its way back after a broken one.

    A header is a `Content-Length` field (any case, spaces allowed around the value), other `Name: value` fields,
    and a blank line; lines may end in CRLF or LF. Bytes outside any frame are skipped and counted in `stray`.
    A frame that cannot be read (a length that is not a number, no body before the next header) comes out with
    its `problem`; the reader then carries on at the next header. One case cannot be caught: a length longer than
    the body with nothing after it waits for the rest, as a slow client's body would.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._length: int | None = None  # of the body being read, once its header is in
        self._searched = 0  # how far that body was already searched for a header
        self.stray = 0

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while self._length is not None or self._read_header(frames):
            frame = self._read_body()
            if frame is None:
                break
            frames.append(frame)
        return frames

    def _read_header(self, frames: list[Frame]) -> bool:
        """Whether a header was read (its body length is in self._length); broken ones go to `frames`."""
        while (start := HEADER.search(self._buffer)) is not None:
            self._skip_stray(start.start())
            outcome = self._header()
            if outcome is None:
                return False
            if isinstance(outcome, Frame):
                frames.append(outcome)
                continue
            self._length, self._searched = outcome, 0
            return True
        # No header yet: the last line may be the start of one, unless it is too long for that.
        last_line = self._buffer.rfind(b"\n") + 1
        too_long = len(self._buffer) - last_line > MAX_HEADER_BYTES
        self._skip_stray(self._header_begins(0) if too_long else last_line)
        return False

    def _header(self) -> int | Frame | None:
        """The body length the header at the start of the buffer gives, a Frame if the header is broken,
        None if the rest of it has not arrived."""
        value, pos = b"", 0
        while True:
            end = self._buffer.find(b"\n", pos)
            if pos > MAX_HEADER_BYTES or (end < 0 and len(self._buffer) > MAX_HEADER_BYTES):
                return self._broken(pos, "a header without an end")
            if end < 0:
                return None
            line = bytes(self._buffer[pos:end]).strip()
            if HEADER.search(line, 1 if pos == 0 else 0):  # another header begins: this one has no body
                return self._broken(pos or 1, "a header with no body")
            if pos == 0:
                value = line.partition(b":")[2].strip()
            elif not line:
                break
            elif not HEADER_FIELD.fullmatch(line):
                return self._broken(pos, "a malformed header line")
            pos = end + 1
        if not value.isdigit() or len(value) > MAX_LENGTH_DIGITS:
            return self._broken(end + 1, f"an invalid Content-Length {value[:20].decode('latin-1')!r}")
        del self._buffer[: end + 1]
        return int(value)

    def _read_body(self) -> Frame | None:
        assert self._length is not None
        length = self._length
        inner = HEADER_IN_BODY.search(self._buffer, self._searched, length + LONGEST_HEADER_IN_BODY)
        if inner is not None and inner.start() < length:
            return self._take(inner.start(), "a body shorter than its Content-Length")
        if len(self._buffer) >= length and not self._header_begun_before(length):
            return self._take(length)
        self._searched = max(0, len(self._buffer) - LONGEST_HEADER_IN_BODY)
        return None

    def _header_begun_before(self, length: int) -> bool:
        """Whether the buffer ends in what may be the first part of a header that starts inside the body. The rest
        of it tells whether it is one, that is whether the body is shorter than its Content-Length. A JSON body
        never ends so: such text can only stand in a string, and the string's closing quote would follow."""
        return self._header_begins(0) < length

    def _header_begins(self, start: int) -> int:
        """Where, from `start` on, the buffer ends in what may be the first part of a header; else its length."""
        first = max(start, len(self._buffer) - LONGEST_HEADER_IN_BODY)
        begun = (pos for pos in range(first, len(self._buffer)) if self._buffer[pos] in b"cC")
        return next((pos for pos in begun if _header_so_far(self._buffer[pos:])), len(self._buffer))

    def _take(self, length: int, problem: str = "") -> Frame:
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        self._length = None
        after = bytes(self._buffer[:PEEK_BYTES]).lstrip()
        return Frame(body, problem, overrun=bool(after) and not HEADER_START.match(after))

    def _broken(self, start: int, problem: str) -> Frame:
        """A broken frame: what follows its header, up to the next header, is taken for its body."""
        following = HEADER.search(self._buffer, max(start, 1))
        end = following.start() if following else max(start, 1, self._header_begins(start))
        frame = Frame(bytes(self._buffer[start:end]), problem)
        del self._buffer[:end]
        return frame

    def _skip_stray(self, count: int) -> None:
        if count > 0:
            if not HEADER_LINES.fullmatch(self._buffer[:count]):  # a header may have other fields first
                self.stray += count
            del self._buffer[:count]


def _header_so_far(tail: bytearray) -> bool:
    name = b"content-length"
    return name.startswith(tail.lower()) if len(tail) < len(name) else bool(HEADER_SO_FAR.fullmatch(tail))


_JSON_TOKEN = re.compile(rb'["{}\[\]]')
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# A whole value: a number cut short by the end of a truncated body would be another request's id.
_ID_VALUE = re.compile(rb'\s*:\s*(-?\d{1,18}(?=\s*[,}])|"[^"\\]*(?:\\.[^"\\]*)*")', re.DOTALL)


def salvage_id(body: bytes) -> int | str | None:
    """The id of a message too broken to decode: its top-level object's `id` member, if that can be read.

    A scan, not a parse: it takes truncated text and any depth of nesting.
    """
    if not body.lstrip().startswith(b"{"):
        return None
    depth, pos = 0, 0
    while (token := _JSON_TOKEN.search(body, pos)) is not None:
        pos = token.end()
        if token.group() == b'"':
            string = _JSON_STRING.match(body, token.start())
            if string is None:
                return None  # cut off inside a string
            pos = string.end()
            if depth == 1 and string.group() == b'"id"' and (value := _ID_VALUE.match(body, pos)):
                try:
                    found = json.loads(value.group(1))
                except ValueError:
                    return None
                return found if isinstance(found, int | str) else None
        else:
            depth += 1 if token.group() in b"{[" else -1
    return None


def stdin_reader(stdin: BinaryIO) -> Callable[[], Awaitable[bytes]]:
    """Chunks of `stdin` as they arrive. They are read on a daemon thread: pygls reads on its thread pool, which
    the interpreter waits for at exit, so a read blocked on a silent client kept the process from ending. The
    thread reads the file descriptor itself: one blocked inside a buffered reader holds its lock, and the
    interpreter aborts when it finds that lock taken at exit."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue()
    try:
        read = functools.partial(os.read, stdin.fileno())
    except (AttributeError, OSError):  # not a real file: a test's BytesIO, say
        read = getattr(stdin, "read1", stdin.read)

    def pump() -> None:
        chunk = b"-"
        while chunk:
            try:
                chunk = read(CHUNK_BYTES)
            except (OSError, ValueError):  # closed
                chunk = b""
            try:
                loop.call_soon_threadsafe(chunks.put_nowait, chunk)
            except RuntimeError:  # the loop is gone: the server has stopped
                return

    threading.Thread(target=pump, name="santa-lsp stdin", daemon=True).start()
    return chunks.get
