"""A small synthetic "team repository" of distinct Python files that pass the data filters."""

from __future__ import annotations

from pathlib import Path

NAMES = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
         "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango"]  # fmt: skip


def module_source(index: int, name: str) -> str:
    other = NAMES[(index * 7 + 3) % len(NAMES)]
    return (
        f'"""Helpers for the {name} service."""\n\n'
        f"import math\n\n\n"
        f"# Scale factor agreed with the {other} team.\n"
        f"{name.upper()}_SCALE = {index + 2}\n\n\n"
        f"def {name}_area(radius):\n"
        f"    # Area of a {name} disc, scaled.\n"
        f"    return math.pi * radius * radius * {name.upper()}_SCALE\n\n\n"
        f"def {name}_{other}_total(values):\n"
        f"    total = 0\n"
        f"    for value in values:\n"
        f"        total += value * {index + 1}\n"
        f"    return total\n\n\n"
        f"class {name.title()}Store:\n"
        f"    def __init__(self):\n"
        f"        self.items = {{}}\n\n"
        f"    def put(self, key, value):\n"
        f"        self.items[key] = value\n"
    )


def write_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(NAMES):
        (root / f"{name}.py").write_text(module_source(index, name))
    return root
