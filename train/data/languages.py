"""Language names and file extensions, shared by the readers and the per-language filters."""

from __future__ import annotations

from pathlib import PurePath

# Canonical (lower-case) language name -> extensions counted as that language.
# Extend this table to support another language; the filters fall back to language-neutral
# behaviour (Pygments lexer lookup by name) for anything that is not Python.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "python": (".py",),
    "java": (".java",),
    "javascript": (".js", ".mjs", ".cjs", ".jsx"),
    "typescript": (".ts", ".tsx"),
    "go": (".go",),
    "rust": (".rs",),
    "c": (".c", ".h"),
    "cpp": (".cc", ".cpp", ".cxx", ".hpp", ".hh"),
}

_BY_EXTENSION = {ext: lang for lang, exts in EXTENSIONS.items() for ext in exts}

# The Stack spells languages as in GitHub linguist ("Python", "JavaScript", "C++").
_ALIASES = {"c++": "cpp", "js": "javascript", "py": "python"}


def canonical(name: str) -> str:
    lowered = name.strip().lower()
    return _ALIASES.get(lowered, lowered)


def language_of_path(path: str) -> str | None:
    return _BY_EXTENSION.get(PurePath(path).suffix.lower())


def parse_languages(spec: str) -> tuple[str, ...]:
    """Turns "python,java" into canonical names, rejecting names with no known extension."""
    names = tuple(canonical(part) for part in spec.split(",") if part.strip())
    unknown = [name for name in names if name not in EXTENSIONS]
    if unknown:
        raise ValueError(f"unknown language(s) {unknown}; known: {sorted(EXTENSIONS)}")
    return names
