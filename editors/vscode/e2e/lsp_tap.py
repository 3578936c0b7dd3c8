"""A transparent stdio proxy in front of a language server that records every JSON-RPC message.

Usage: lsp_tap.py LOG.jsonl -- SERVER [ARGS...]
Each message is appended to LOG.jsonl as {"dir": "c2s"|"s2c", "t": seconds, "msg": {...}}.
The e2e test uses it to know exactly what the server answered, independently of what the editor
shows.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from typing import BinaryIO


def read_message(stream: BinaryIO) -> bytes | None:
    """One framed LSP message (headers and body) or None at end of stream."""
    headers = b""
    while not headers.endswith(b"\r\n\r\n"):
        byte = stream.read(1)
        if not byte:
            return None
        headers += byte
    length = 0
    for line in headers.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = stream.read(length)
    return headers + body if len(body) == length else None


def pump(src: BinaryIO, dst: BinaryIO, direction: str, log: BinaryIO, lock: threading.Lock, start: float) -> None:
    while True:
        frame = read_message(src)
        if frame is None:
            break
        dst.write(frame)
        dst.flush()
        body = frame.split(b"\r\n\r\n", 1)[1]
        try:
            msg = json.loads(body)
        except ValueError:
            msg = {"unparsed": body.decode("utf-8", "replace")}
        record = {"dir": direction, "t": round(time.monotonic() - start, 3), "msg": msg}
        with lock:
            log.write(json.dumps(record).encode() + b"\n")
            log.flush()
    with contextlib.suppress(OSError):
        dst.close()


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    log = open(sys.argv[1], "ab")  # noqa: SIM115 (lives as long as the process)
    server = subprocess.Popen(sys.argv[3:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    lock = threading.Lock()
    start = time.monotonic()
    assert server.stdin is not None and server.stdout is not None
    to_server = threading.Thread(
        target=pump, args=(sys.stdin.buffer, server.stdin, "c2s", log, lock, start), daemon=True
    )
    to_client = threading.Thread(target=pump, args=(server.stdout, sys.stdout.buffer, "s2c", log, lock, start))
    to_server.start()
    to_client.start()
    to_client.join()
    code = server.wait()
    log.close()
    # os._exit: the stdin reader thread may still hold its lock; a normal exit would abort.
    os._exit(code)


if __name__ == "__main__":
    main()
