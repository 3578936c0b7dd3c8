"""The corpus builder's license checks and file selection, on packages made in the test."""

from __future__ import annotations

import json
from email.parser import HeaderParser
from pathlib import Path

import pytest

from train.corpus import LICENSE_READERS, Source, copy_code, gather_site_packages, metadata_license, spdx_of


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MIT", "MIT"),
        ("License :: OSI Approved :: BSD License", "BSD-3-Clause"),
        ("Apache License\n          Version 2.0, January 2004", "Apache-2.0"),
        ("Permission is hereby granted, free of charge, to any person", "MIT"),
        ("GNU GENERAL PUBLIC LICENSE Version 3", None),
        ("Mozilla Public License 2.0", None),
        ("Commercial, submit a form", None),
    ],
)
def test_license_names(text: str, expected: str | None) -> None:
    assert spdx_of(text) == expected


def test_pypi_license_from_metadata(tmp_path: Path) -> None:
    info = tmp_path / "pkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pkg\nLicense-Expression: BSD-3-Clause\n")
    assert LICENSE_READERS["pypi"](tmp_path) == "BSD-3-Clause"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pkg\nLicense: GPL-2.0-only\n")
    assert LICENSE_READERS["pypi"](tmp_path) is None


def test_npm_license_from_package_json(tmp_path: Path) -> None:
    (tmp_path / "package").mkdir()
    (tmp_path / "package" / "package.json").write_text(json.dumps({"name": "x", "license": "ISC"}))
    assert LICENSE_READERS["npm"](tmp_path) == "ISC"


def test_only_code_of_our_languages_is_copied(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for name in ("a.py", "sub/B.java", "sub/c.js", "README.md", "d.c", "e.pyc"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("x = 1\n")
    source = Source("pypi", "demo", "1.0", "MIT")
    copy_code(tree, tmp_path / "out", source)
    copied = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert copied == ["a.py", "sub/B.java", "sub/c.js"]
    assert (source.files, source.bytes) == (3, 18)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ("License-Expression: BSD-3-Clause AND MIT\n", "BSD-3-Clause AND MIT"),
        ("License: BSD\nClassifier: License :: OSI Approved :: BSD License\n", "BSD-3-Clause"),
        ("License: UNKNOWN\nClassifier: License :: OSI Approved :: Apache Software License\n", "Apache-2.0"),
        ("License: MPL-2.0 AND MIT\n", None),  # both bind: the MPL part is refused
        ("License-Expression: GPL-3.0-only OR MIT\n", None),  # dual licenses are refused too
        ("License: MIT\nClassifier: License :: Other/Proprietary License\n", None),
        ("Name: no-license-given\n", None),
    ],
)
def test_metadata_license_refuses_any_copyleft_or_proprietary_mention(headers: str, expected: str | None) -> None:
    assert metadata_license(HeaderParser().parsestr(f"Metadata-Version: 2.4\n{headers}")) == expected


def _install(site: Path, name: str, license_header: str, files: dict[str, str]) -> None:
    """A distribution as pip leaves it: its files, and a dist-info with METADATA and RECORD."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.4\nName: {name}\nVersion: 1.0\n{license_header}\n")
    for relative, text in files.items():
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_text(text)
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in [*files, f"{info.name}/METADATA"]))


def test_site_packages_keep_allowed_code_smallest_first_under_the_cap(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install(site, "small", "License-Expression: MIT", {"small/__init__.py": "a = 1\n", "small/tests/t.py": "t\n"})
    _install(site, "vendoring", "License: BSD-3-Clause", {"vend/x.py": "x = 2\n", "vend/_vendor/y.py": "y\n"})
    _install(site, "large", "License-Expression: Apache-2.0", {"large/big.py": "z = 3\n" * 100})
    _install(site, "copyleft", "License: GPL-2.0-only", {"copyleft/c.py": "c = 4\n"})
    refused: list[str] = []
    sources = gather_site_packages(tmp_path / "out", 100, refused, path=[str(site)])
    assert [(s.name, s.license, s.files) for s in sources] == [("small", "MIT", 1), ("vendoring", "BSD-3-Clause", 1)]
    files = tmp_path / "out" / "files" / "python-site"
    assert sorted(str(p.relative_to(files)) for p in files.rglob("*.py")) == [
        "small/small/__init__.py",
        "vendoring/vend/x.py",
    ]
    assert any(r.startswith("python-site:copyleft: no allowed license") for r in refused)
    assert any(r.startswith("python-site:large: 0.0 MB would pass the size cap") for r in refused)
