"""The corpus builder's license checks and file selection, on packages made in the test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from train.corpus import LICENSE_READERS, Source, copy_code, spdx_of


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
