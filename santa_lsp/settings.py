"""The server's settings: one schema for the server, its command line, the editors and the docs.

`Settings` owns each setting's name, type, default and bounds; the command line takes its
defaults from it. tests/test_settings_schema.py holds the editors' declarations
(editors/vscode/package.json and src/settings.ts, editors/neovim/lua/santa_lsp/init.lua) and the
table in docs/protocol.md to it, so adding a setting is a field here, its declaration in each
editor and a row in that table.

Clients send settings as `initializationOptions` and in `workspace/didChangeConfiguration`,
either flat or nested under `santaLsp`. cattrs structures each value on its own, so one bad value
costs nothing else: an unknown key, or a value of the wrong type or out of bounds, is reported
back (the server shows it to the user) and the previous value is kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

import cattrs
from cattrs.errors import CattrsError

SECTION = "santaLsp"


@dataclass(frozen=True)
class Bounds:
    """The values a number setting may take."""

    minimum: float = 0
    maximum: float | None = None


Dtype = Literal["auto", "fp32", "bf16", "fp16", "int8"]
FimMode = Literal["spm", "psm"]
Backend = Literal["local", "llama.cpp", "openai"]
Count = Annotated[int, Bounds()]  # tokens, milliseconds, megabytes
Number = Annotated[float, Bounds()]
Probability = Annotated[float, Bounds(0, 1)]
# Completions of one prompt made in one batch (model.GenerationConfig.candidates); the bound
# keeps a CPU from being asked for more rows than a keystroke can wait for.
CandidateCount = Annotated[int, Bounds(1, 8)]
DTYPES: tuple[str, ...] = get_args(Dtype)
FIM_MODES: tuple[str, ...] = get_args(FimMode)
BACKENDS: tuple[str, ...] = get_args(Backend)
# Changing one of these means loading another model (or connecting to another server).
MODEL_KEYS = frozenset(
    {"model", "device", "dtype", "prefixCacheMb", "backend", "backendUrl", "backendModel", "backendApiKeyEnv",
     "backendTimeoutMs"}
)  # fmt: skip


@dataclass(frozen=True)
class Settings:
    """The protocol's settings under their protocol names (docs/protocol.md, "Settings")."""

    model: str | None = None  # a directory or a Hub id; None: the shipped model
    # Where completions come from: this process (`local`), or an inference server over HTTP
    # (santa_lsp/remote.py, docs/backends.md). For a server, `model` names the model it serves:
    # only its tokenizer and context length are read, to size and lay out the prompts.
    backend: Backend = "local"
    backendUrl: str = "http://127.0.0.1:8080"
    backendModel: str | None = None  # the `model` field of OpenAI requests (vLLM and Ollama need it)
    backendApiKeyEnv: str | None = None  # the NAME of an environment variable holding the API key
    backendTimeoutMs: Count = 10000  # one HTTP request, from connect to the last byte
    device: str = "auto"  # auto, cpu, cuda or cuda:N
    dtype: Dtype = "auto"
    maxNewTokens: Count = 64
    timeBudgetMs: Count = 1500  # 0: no budget
    fimMode: FimMode = "spm"
    temperature: Number = 0.0
    stop: tuple[str, ...] = ()
    enabled: bool = True
    disabledLanguages: tuple[str, ...] = ()
    crossFile: bool = True
    crossFileTokens: Count = 256
    # Regions the user edited recently elsewhere, as context (santa_lsp/recent.py); off by
    # default: no measurable gain in `santa-lsp bench --quality --multi-site` (docs/performance.md).
    recentEdits: bool = False
    recentEditsTokens: Count = 128
    stats: bool = False
    # Gates on what is shown; the defaults are chosen by `santa-lsp bench --quality`.
    minTokenProb: Probability = 0.2  # drop an unsure start, cut unsure later lines (postprocess.confident_part)
    stopRepetition: bool = True  # stop generating where a loop begins
    syntaxCheck: bool = True  # drop a suggestion that leaves the line syntactically broken
    tokenHealing: bool = True  # the prompt's last token is rewritten by the model (model/healing.py)
    candidates: CandidateCount = 1  # suggestions per request, for the editor to cycle through
    # Extensions: the latency caches, off only to measure what they bring.
    cache: bool = True
    prefixCacheMb: Count = 1024
    # Prefill the prompt where the editor says the user is about to type (santa/prefill).
    warmUp: bool = True
    # Generations ahead of their request (santa_lsp/ahead.py); defaults from the realtime bench.
    keepAgreeing: bool = True  # typing what the running generation writes does not cancel it
    # In idle time, make the suggestion after accepting the one shown; with none shown at the end
    # of a line, the one on the next line after Enter and the editor's indentation.
    prefetchNext: bool = False

    def update(self, raw: object) -> tuple[Settings, list[str]]:
        """These settings with the valid keys of `raw` (flat or under `santaLsp`) applied, and a
        line for each key that was not."""
        if raw is None:
            return self, []
        if not isinstance(raw, dict):
            return self, [f"settings must be an object, got {type(raw).__name__}"]
        if isinstance(raw.get(SECTION), dict):
            raw = raw[SECTION]
        changes: dict[str, Any] = {}
        problems: list[str] = []
        for key, value in raw.items():
            if key not in TYPES:
                problems.append(f"unknown setting {key!r} ignored")
                continue
            try:
                changes[key] = converter.structure(value, TYPES[key])
            except (CattrsError, TypeError, ValueError):
                kept = getattr(self, key)
                problems.append(f"{key} must be {expected(TYPES[key])}, got {value!r}; keeping {kept!r}")
        return dataclasses.replace(self, **changes), problems

    def model_changed(self, other: Settings) -> bool:
        return any(getattr(self, key) != getattr(other, key) for key in MODEL_KEYS)


TYPES: dict[str, Any] = get_type_hints(Settings, include_extras=True)  # Annotated kept: the bounds


def _exactly(*accepted: type) -> Callable[[object, type], object]:
    """A hook that takes only these JSON types: `true` is no token budget, nor "yes" a boolean
    (Python's bool is an int, and cattrs' own hooks would call bool("no"))."""

    def structure(value: object, kind: type) -> object:
        if isinstance(value, bool) != (bool in accepted) or not isinstance(value, accepted):
            raise TypeError(f"{value!r} is not {kind.__name__}")
        return kind(value)  # type: ignore[call-arg]

    return structure


def _strings(value: object, _: type) -> tuple[str, ...]:
    if not isinstance(value, list):  # a string is iterable too, but "abc" is no list of three
        raise TypeError(f"{value!r} is not a list")
    return tuple(converter.structure(item, str) for item in value)


def _bounded(kind: Any) -> Callable[[object, type], object]:
    base, bounds = get_args(kind)[:2]

    def structure(value: object, _: type) -> object:
        number = converter.structure(value, base)
        if number < bounds.minimum or (bounds.maximum is not None and number > bounds.maximum):
            raise ValueError(f"{number} is out of bounds")
        return number

    return structure


converter = cattrs.Converter()
converter.register_structure_hook(bool, _exactly(bool))
converter.register_structure_hook(int, _exactly(int))
converter.register_structure_hook(float, _exactly(int, float))
converter.register_structure_hook(str, _exactly(str))
converter.register_structure_hook_func(lambda kind: kind == tuple[str, ...], _strings)
converter.register_structure_hook_factory(lambda kind: get_origin(kind) is Annotated, _bounded)


def expected(kind: Any) -> str:
    """What a value of the setting type `kind` must be, in words for the user."""
    if get_origin(kind) is Literal:
        return "one of " + ", ".join(get_args(kind))
    if get_origin(kind) is Annotated:
        base, bounds = get_args(kind)[:2]
        noun = "an integer" if base is int else "a number"
        if bounds.maximum is None:
            return f"{noun} of at least {bounds.minimum:g}"
        return f"{noun} from {bounds.minimum:g} to {bounds.maximum:g}"
    words = {
        bool: "true or false",
        str: "a string",
        str | None: "a string or null",
        tuple[str, ...]: "a list of strings",
    }
    return words[kind]
