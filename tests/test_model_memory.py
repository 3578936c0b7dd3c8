"""model/memory.py: freed blocks stay in the process, so the next prefill reuses them."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Allocates and frees a 256 MiB tensor in a fresh process; prints how much of it stays resident.
PROBE = """
import sys, resource, torch
from model.memory import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
def resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()
before = resident()
block = torch.ones(2**26)
del block
print((resident() - before) // 2**20)
"""


def kept_mib(mode: str) -> int:
    result = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return int(result.stdout)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_memory_is_kept_for_reuse_only_when_asked() -> None:
    assert kept_mib("default") < 16  # glibc unmaps a block that large when it is freed
    assert kept_mib("keep") > 200
