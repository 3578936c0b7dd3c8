"""`santa-train corpus`: gather permissively licensed code from the package registries.

Reads a source list (train/configs/corpus.toml), downloads every pinned package with the
registry's own client (pip, npm, apt-get source), refuses any whose license is not on
ALLOWED, copies its Python/Java/JavaScript files under OUT/files/<registry>/<name>/, and
writes OUT/MANIFEST.json: each source, its version, license and how many files and bytes it
gave. Downloads are kept in OUT/downloads, so an interrupted run resumes without re-fetching.
The result is a plain directory for `santa-train data --input OUT/files`.

Offline, the source list can instead take this interpreter's standard library and its installed
distributions (`[site_packages]`, licenses read from their metadata with the same rules):
train/configs/device-corpus.toml, which scripts/device-train uses on a machine with no network.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import tomllib
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from email.message import Message
from email.parser import HeaderParser
from importlib import metadata
from pathlib import Path

from tqdm import tqdm

from train.data.languages import language_of_path

LANGUAGES = ("python", "java", "javascript")
# SPDX ids we accept, and the phrases that identify them in metadata or license files.
ALLOWED = {
    "MIT": ("mit license", "mit", "expat", "permission is hereby granted, free of charge"),
    "BSD-3-Clause": ("bsd-3-clause", "bsd 3-clause", "new bsd", "bsd license", "bsd", "modified bsd"),
    "BSD-2-Clause": ("bsd-2-clause", "simplified bsd"),
    "Apache-2.0": (
        "apache-2.0",
        "apache 2.0",
        "apache software license",
        "apache license, version 2.0",
        "apache license version 2.0",
    ),
    "PSF-2.0": ("psf-2.0", "python software foundation license"),
    "ISC": ("isc license", "isc"),
}
# Package metadata that names any of these is refused even beside an allowed license: "MPL-2.0
# AND MIT" binds both, and a dual-licensed package is not worth the doubt in a training set.
REFUSED = ("gpl", "lgpl", "agpl", "gnu", "mpl", "mozilla public", "epl", "eclipse public", "eupl", "cddl",
           "sspl", "busl", "cc-by-sa", "proprietary", "commercial")  # fmt: skip
# Folders left out of installed packages and the standard library: test suites (fixtures of
# every kind, often deliberately broken) and vendored copies of other projects (their own licenses).
TEST_DIRS = frozenset({"test", "tests", "idle_test"})
VENDORED_DIRS = frozenset({"_vendor", "vendor", "vendored", "_vendored", "third_party", "externals", "_externals"})
CONFIG = Path(__file__).parent / "configs" / "corpus.toml"


@dataclass
class Source:
    registry: str  # "python-stdlib" | "python-site" (installed distributions) | "pypi" | "npm" | "debian"
    name: str
    version: str
    license: str
    files: int = 0
    bytes: int = 0


def _names(text: str, phrases: Iterable[str]) -> bool:
    lowered = " ".join(text.lower().split())  # license texts wrap phrases over lines
    return any(re.search(rf"(^|[^a-z]){re.escape(p)}([^a-z]|$)", lowered) for p in phrases)


def spdx_of(text: str) -> str | None:
    """The allowed license a metadata field or license text names, if any."""
    return next((spdx for spdx, phrases in ALLOWED.items() if _names(text, phrases)), None)


def metadata_license(headers: Message) -> str | None:
    """The allowed license a Python package's metadata declares (License-Expression, License,
    classifiers); None when it declares none, or names a refused one anywhere. An SPDX
    License-Expression is returned as written ("BSD-3-Clause AND MIT"), other fields as the id
    they name. `headers` is a parsed METADATA file or an installed distribution's `.metadata`."""
    expression = headers.get("License-Expression") or ""
    fields = [expression, (headers.get("License") or "")[:200]]
    fields += [c for c in headers.get_all("Classifier") or [] if c.startswith("License ::")]
    if any(_names(field, REFUSED) for field in fields):
        return None
    if spdx_of(expression):
        return expression.strip()
    return next((spdx for spdx in map(spdx_of, fields) if spdx), None)


def is_code(path: Path) -> bool:
    return language_of_path(path.name) in LANGUAGES and path.is_file() and not path.is_symlink()


def copy_files(files: Iterable[tuple[Path, Path]], target: Path, source: Source) -> None:
    """Copy (file, path under target) pairs, counting them in `source`."""
    for path, relative in files:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
        source.files += 1
        source.bytes += destination.stat().st_size


def copy_code(tree: Path, target: Path, source: Source) -> None:
    """Copy the files of our languages from `tree`, skipping tests' fixtures of other kinds."""
    copy_files(((p, p.relative_to(tree)) for p in sorted(tree.rglob("*")) if is_code(p)), target, source)


def _run(*command: str, cwd: Path | None = None) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])}...: {result.stderr.strip()[-300:]}")


def _unpack(archive: Path, into: Path) -> Path:
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(into)
    else:
        with tarfile.open(archive) as tarred:
            tarred.extractall(into, filter="data")
    return into


def _download(registry: str, name: str, version: str, downloads: Path) -> Path:
    """Fetch once into downloads/<registry>/<name>/ and return that folder."""
    folder = downloads / registry / name
    if (folder / ".done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if registry == "pypi":
        _run("pip", "download", "--no-deps", "--quiet", "-d", str(folder), f"{name}=={version}")
    elif registry == "npm":
        _run("npm", "pack", f"{name}@{version}", "--silent", "--pack-destination", str(folder))
    else:
        _run("apt-get", *_apt_source_options(downloads), "source", "--download-only", name, cwd=folder)
    (folder / ".done").touch()
    return folder


def _apt_source_options(downloads: Path) -> list[str]:
    """apt-get options for a private deb-src list: the machine's own apt setup is untouched."""
    state = downloads / "apt"
    if not (state / "lists").exists():
        (state / "lists" / "partial").mkdir(parents=True)
        (state / "cache").mkdir()
        (state / "src.sources").write_text(
            "Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n"
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        )
        options = _apt_options(state)
        _run("apt-get", *options, "update")
    return _apt_options(state)


def _apt_options(state: Path) -> list[str]:
    return [
        "-o", "Dir::Etc::SourceList=/dev/null", "-o", f"Dir::Etc::SourceParts={state}",
        "-o", f"Dir::State::Lists={state / 'lists'}", "-o", f"Dir::Cache={state / 'cache'}",
    ]  # fmt: skip


def _pypi_license(tree: Path) -> str | None:
    for path in [*tree.rglob("METADATA"), *tree.rglob("PKG-INFO")]:
        found = metadata_license(HeaderParser().parsestr(path.read_text(encoding="utf-8", errors="replace")))
        if found:
            return found
    return None


def _npm_license(tree: Path) -> str | None:
    manifest = json.loads((tree / "package" / "package.json").read_text(encoding="utf-8"))
    declared = manifest.get("license", "")
    return spdx_of(declared if isinstance(declared, str) else declared.get("type", ""))


def _license_file(tree: Path) -> str | None:
    for path in sorted(tree.rglob("*")):
        if path.is_file() and re.match(r"(license|licence|copying|notice)", path.name, re.IGNORECASE):
            found = spdx_of(path.read_text(encoding="utf-8", errors="replace")[:2000])
            if found:
                return found
    return None


LICENSE_READERS: dict[str, Callable[[Path], str | None]] = {
    "pypi": _pypi_license,
    "npm": _npm_license,
    "debian": _license_file,
}


def gather_package(registry: str, name: str, version: str, out: Path) -> Source:
    folder = _download(registry, name, version, out / "downloads")
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch)
        for archive in sorted(folder.iterdir()):
            if archive.name.endswith((".whl", ".zip", ".tar.gz", ".tgz", ".tar.xz")) and ".debian." not in archive.name:
                _unpack(archive, tree)
        found = LICENSE_READERS[registry](tree)
        if registry == "debian" and found != version:  # for Debian, the TOML names the license
            raise RuntimeError(f"license file says {found!r}, expected {version!r}")
        if found is None:
            raise RuntimeError("no allowed license found in its metadata")
        label = "upstream" if registry == "debian" else version
        source = Source(registry, name, label, found)
        target = out / "files" / registry / name
        shutil.rmtree(target, ignore_errors=True)
        copy_code(tree, target, source)
    return source


def gather_stdlib(out: Path) -> Source:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    source = Source("python-stdlib", "cpython", sysconfig.get_python_version(), "PSF-2.0")
    target = out / "files" / "python-stdlib"
    shutil.rmtree(target, ignore_errors=True)
    with tempfile.TemporaryDirectory() as scratch:
        # Keep the library, not its test suite or the third-party packages installed beside it.
        ignore = shutil.ignore_patterns("site-packages", "dist-packages", "__pycache__", *TEST_DIRS)
        shutil.copytree(stdlib, Path(scratch) / "lib", ignore=ignore, symlinks=True)
        copy_code(Path(scratch) / "lib", target, source)
    return source


@dataclass(frozen=True)
class Installed:
    """An installed distribution we may take: its code files, each with its path in the package."""

    name: str
    version: str
    license: str
    files: list[tuple[Path, Path]]
    bytes: int


def _installed_code(dist: metadata.Distribution) -> list[tuple[Path, Path]]:
    """The distribution's own files of our languages, as its RECORD lists them, so that each file
    counts for the package that installed it; test suites and vendored projects left out."""
    found = []
    for entry in dist.files or []:
        parts = entry.parts
        if ".." in parts or TEST_DIRS.intersection(parts) or VENDORED_DIRS.intersection(parts):
            continue
        path = Path(str(dist.locate_file(entry)))
        if is_code(path):
            found.append((path, Path(*parts)))
    return found


def installed_distributions(refused: list[str], path: list[str] | None = None) -> list[Installed]:
    """The distributions on `path` (default sys.path: this interpreter's) with an allowed license
    and code of our languages, the first found for each name (the one that imports); refusals
    appended to `refused`."""
    chosen: dict[str, Installed] = {}
    for dist in metadata.distributions(path=path or sys.path):
        name = re.sub(r"[-_.]+", "-", dist.metadata.get("Name") or "").lower()
        if not name or name in chosen:
            continue
        license = metadata_license(dist.metadata)  # type: ignore[arg-type]  # a Message at run time
        if license is None:
            refused.append(f"python-site:{name}: no allowed license in its metadata")
            continue
        files = _installed_code(dist)
        if files:
            chosen[name] = Installed(name, dist.version, license, files, sum(p.stat().st_size for p, _ in files))
    return list(chosen.values())


def gather_site_packages(
    out: Path, max_bytes: float, refused: list[str], path: list[str] | None = None
) -> list[Source]:
    """Code of the installed distributions, smallest first while the total stays under `max_bytes`:
    many small packages make a more varied corpus than the one or two largest would."""
    sources, total = [], 0
    for dist in sorted(installed_distributions(refused, path), key=lambda d: (d.bytes, d.name)):
        if total + dist.bytes > max_bytes:
            refused.append(f"python-site:{dist.name}: {dist.bytes / 1e6:.1f} MB would pass the size cap")
            continue
        source = Source("python-site", dist.name, dist.version, dist.license)
        target = out / "files" / "python-site" / dist.name
        shutil.rmtree(target, ignore_errors=True)
        copy_files(dist.files, target, source)
        sources.append(source)
        total += source.bytes
    return sources


def planned(config: dict) -> Iterator[tuple[str, str, str]]:
    for registry in ("pypi", "npm", "debian"):
        for name, version in config.get(registry, {}).items():
            yield registry, name, version


def build_corpus(config_path: Path, out: Path) -> tuple[list[Source], list[str]]:
    return build_corpus_from(tomllib.loads(config_path.read_text(encoding="utf-8")), out)


def build_corpus_from(config: dict, out: Path) -> tuple[list[Source], list[str]]:
    """Gather what a source list (as read from its TOML) names; (sources, what was skipped and why)."""
    sources: list[Source] = [gather_stdlib(out)] if config.get("python_stdlib") else []
    failures: list[str] = []
    if "site_packages" in config:
        max_mb = config["site_packages"].get("max_mb", float("inf"))
        sources += gather_site_packages(out, max_mb * 1e6, failures)
    packages = list(planned(config))
    for registry, name, version in tqdm(packages, desc="corpus", unit="package"):
        try:
            sources.append(gather_package(registry, name, version, out))
        except (RuntimeError, OSError, json.JSONDecodeError, tarfile.TarError, zipfile.BadZipFile) as error:
            failures.append(f"{registry}:{name}: {error}")
    manifest = {"sources": [asdict(s) for s in sources], "skipped": failures}
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return sources, failures


def run(args: argparse.Namespace) -> int:
    sources, failures = build_corpus(args.config, args.out)
    for s in sources:
        print(f"{s.registry:14} {s.name:28} {s.license:13} {s.files:6} files {s.bytes / 1e6:7.1f} MB")
    total = sum(s.bytes for s in sources)
    print(f"total: {sum(s.files for s in sources)} files, {total / 1e6:.1f} MB -> {args.out / 'files'}")
    for failure in failures:
        print(f"skipped {failure}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("corpus", help="gather permissively licensed code into a directory")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--config", type=Path, default=CONFIG, help="source list (default: the shipped one)")
    parser.set_defaults(func=run)
