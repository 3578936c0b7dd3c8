"""A forgiving INI-style configuration parser with typed accessors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TRUE_VALUES = {"1", "true", "yes", "on"}
FALSE_VALUES = {"0", "false", "no", "off"}


class ConfigError(Exception):
    def __init__(self, message: str, line_no: int | None = None) -> None:
        if line_no is not None:
            message = f"line {line_no}: {message}"
        super().__init__(message)
        self.line_no = line_no


def strip_comment(line: str) -> str:
    in_quotes = False
    for index, ch in enumerate(line):
        if ch == '"':
            in_quotes = not in_quotes
        elif ch in "#;" and not in_quotes:
            return line[:index].rstrip()
    return line.rstrip()


def unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


class Config:
    def __init__(self) -> None:
        self.sections: dict[str, dict[str, str]] = {}

    @classmethod
    def from_file(cls, path: str | Path) -> Config:
        text = Path(path).read_text(encoding="utf-8")
        return cls.from_string(text)

    @classmethod
    def from_string(cls, text: str) -> Config:
        config = cls()
        current = config.section("default")
        for line_no, raw in enumerate(text.splitlines(), start=1):
            line = strip_comment(raw).strip()
            if not line:
                continue
            if line.startswith("["):
                if not line.endswith("]"):
                    raise ConfigError("unterminated section header", line_no)
                current = config.section(line[1:-1].strip().lower())
                continue
            if "=" not in line:
                raise ConfigError(f"expected key = value, got {line!r}", line_no)
            key, value = line.split("=", 1)
            current[key.strip().lower()] = unquote(value.strip())
        return config

    def section(self, name: str) -> dict[str, str]:
        return self.sections.setdefault(name, {})

    def has(self, section: str, key: str) -> bool:
        return key in self.sections.get(section, {})

    def get(self, section: str, key: str, fallback: str | None = None) -> str | None:
        values = self.sections.get(section, {})
        if key in values:
            return self._interpolate(values[key], section)
        return self.sections.get("default", {}).get(key, fallback)

    def get_int(self, section: str, key: str, fallback: int = 0) -> int:
        raw = self.get(section, key)
        if raw is None:
            return fallback
        try:
            return int(raw, 0)
        except ValueError:
            raise ConfigError(f"{section}.{key} is not an integer: {raw!r}") from None

    def get_float(self, section: str, key: str, fallback: float = 0.0) -> float:
        raw = self.get(section, key)
        return fallback if raw is None else float(raw)

    def get_bool(self, section: str, key: str, fallback: bool = False) -> bool:
        raw = self.get(section, key)
        if raw is None:
            return fallback
        lowered = raw.lower()
        if lowered in TRUE_VALUES:
            return True
        if lowered in FALSE_VALUES:
            return False
        raise ConfigError(f"{section}.{key} is not a boolean: {raw!r}")

    def get_list(self, section: str, key: str, sep: str = ",") -> list[str]:
        raw = self.get(section, key)
        if not raw:
            return []
        return [item.strip() for item in raw.split(sep) if item.strip()]

    def _interpolate(self, value: str, section: str, depth: int = 0) -> str:
        if "${" not in value or depth > 5:
            return value
        start = value.index("${")
        end = value.find("}", start)
        if end == -1:
            return value
        name = value[start + 2:end]
        sec, _, key = name.rpartition(".")
        replacement = self.get(sec or section, key, "") or ""
        result = value[:start] + replacement + value[end + 1:]
        return self._interpolate(result, section, depth + 1)

    def set(self, section: str, key: str, value: Any) -> None:
        if isinstance(value, bool):
            value = "true" if value else "false"
        self.section(section)[key.lower()] = str(value)

    def to_dict(self) -> dict[str, dict[str, str]]:
        return {name: dict(values) for name, values in self.sections.items() if values}

    def dumps(self) -> str:
        chunks = []
        for name, values in self.sections.items():
            if not values:
                continue
            lines = [f"[{name}]"]
            lines.extend(f"{key} = {value}" for key, value in sorted(values.items()))
            chunks.append("\n".join(lines))
        return "\n\n".join(chunks) + "\n"

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.dumps(), encoding="utf-8")
