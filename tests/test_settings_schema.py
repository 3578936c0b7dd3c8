"""Every copy of the server's settings agrees with the one schema, santa_lsp.settings.Settings:
the VS Code extension's contributed settings and its settings.ts, the Neovim plugin's list of
server keys, and the table in docs/protocol.md (names, types, defaults and bounds)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from santa_lsp.settings import TYPES, Settings

ROOT = Path(__file__).resolve().parent.parent
VSCODE = ROOT / "editors" / "vscode"
DEFAULTS = {field.name: field.default for field in dataclasses.fields(Settings)}
# VS Code says which languages to leave out as a map per language (santaLsp.enable); the
# extension turns it into the server's disabledLanguages.
VSCODE_ONLY = {"server.command", "server.pythonPath", "server.args", "enable"}
NOT_IN_VSCODE = {"disabledLanguages"}


def base(kind: Any) -> Any:
    """The type without its bounds; a Literal is a string."""
    if get_origin(kind) is Annotated:
        return get_args(kind)[0]
    return str if get_origin(kind) is Literal else kind


def bounds(kind: Any) -> tuple[float, float | None] | None:
    if get_origin(kind) is not Annotated:
        return None
    found = get_args(kind)[1]
    return found.minimum, found.maximum


def as_json(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def editor_default(name: str) -> Any:
    """The default as the editors write it: no model (the shipped one) is ""."""
    return "" if DEFAULTS[name] is None else as_json(DEFAULTS[name])


def block(text: str, start: str) -> str:
    """The text from `start` to the first line that closes it (`}` or `});` at column 0)."""
    begin = text.index(start)
    return text[begin : text.index("\n}", begin)]


def test_every_default_is_a_valid_value_of_its_type() -> None:
    assert set(TYPES) == set(DEFAULTS)
    for name, value in DEFAULTS.items():
        assert Settings().update({name: as_json(value)}) == (Settings(), []), name


def test_vscode_contributes_every_setting_with_its_type_default_and_bounds() -> None:
    manifest = json.loads((VSCODE / "package.json").read_text())
    props = {
        key.removeprefix("santaLsp."): spec
        for key, spec in manifest["contributes"]["configuration"]["properties"].items()
    }
    assert set(props) - VSCODE_ONLY == set(TYPES) - NOT_IN_VSCODE
    json_types = {bool: "boolean", int: "integer", float: "number", str: "string", str | None: "string",
                  tuple[str, ...]: "array"}  # fmt: skip
    for name in set(TYPES) - NOT_IN_VSCODE:
        spec, kind = props[name], TYPES[name]
        assert spec["type"] == json_types[base(kind)], name
        assert spec["default"] == editor_default(name), name
        if get_origin(kind) is Literal:
            assert tuple(spec["enum"]) == get_args(kind), name
        if base(kind) == tuple[str, ...]:
            assert spec["items"] == {"type": "string"}, name
        if limits := bounds(kind):  # the editor may narrow what the server takes, never widen it
            low, high = limits
            assert spec.get("minimum", -1) >= low, f"{name}: VS Code allows values below {low}"
            assert high is None or spec.get("maximum", high + 1) <= high, f"{name}: VS Code allows values above {high}"


def test_vscode_settings_ts_sends_every_setting_with_the_schema_default() -> None:
    source = (VSCODE / "src" / "settings.ts").read_text()
    interface = dict(re.findall(r"^  (\w+)\??: ([\w\[\]]+);", block(source, "export interface ServerSettings"), re.M))
    assert set(interface) == set(TYPES)
    ts_types = {bool: "boolean", int: "number", float: "number", str: "string", str | None: "string",
                tuple[str, ...]: "string[]"}  # fmt: skip
    assert {name: ts_types[base(kind)] for name, kind in TYPES.items()} == interface
    defaults = {
        name: json.loads(value)
        for name, value in re.findall(r"^  (\w+): (.+),$", block(source, "export const DEFAULTS"), re.M)
    }
    assert defaults == {name: editor_default(name) for name in TYPES if name != "model"}  # no model: the shipped one
    mapping = block(source, "export function toServerSettings")
    for name in set(TYPES) - NOT_IN_VSCODE:
        assert f'get("{name}")' in mapping, f"toServerSettings does not read {name}"


def test_the_neovim_plugin_knows_every_setting_and_its_type() -> None:
    source = (ROOT / "editors" / "neovim" / "lua" / "santa_lsp" / "init.lua").read_text()
    keys = dict(re.findall(r'^  (\w+) = "(\w+)",', block(source, "local SERVER_KEYS = {"), re.M))
    lua_types = {bool: "boolean", int: "number", float: "number", str: "string", str | None: "string",
                 tuple[str, ...]: "table"}  # fmt: skip
    assert keys == {name: lua_types[base(kind)] for name, kind in TYPES.items()}


def test_docs_protocol_lists_every_setting_with_its_type_and_default() -> None:
    docs = (ROOT / "docs" / "protocol.md").read_text()
    table = docs[docs.index("## Settings") : docs.index("\n## ", docs.index("## Settings") + 1)]
    rows = {name: (kind, default, meaning) for name, kind, default, meaning in
            re.findall(r"^\| `(\w+)` \| ([^|]+?) \| ([^|]+?) \| (.+) \|$", table, re.M)}  # fmt: skip
    assert set(rows) == set(TYPES)
    doc_types = {bool: "bool", int: "int", float: "number", str: "string", str | None: "string",
                 tuple[str, ...]: "string[]"}  # fmt: skip
    for name, kind in TYPES.items():
        written, default, meaning = rows[name]
        assert written == doc_types[base(kind)], name
        assert _value(default) == ("packaged model" if name == "model" else as_json(DEFAULTS[name])), name
        for choice in get_args(kind) if get_origin(kind) is Literal else ():
            assert f"`{choice}`" in default + meaning, f"{name}: {choice} is not documented"


def _value(cell: str) -> Any:
    cell = cell.strip("`")
    try:
        return json.loads(cell)
    except json.JSONDecodeError:
        return cell
