"""Run untrusted, model-written Python in a child process with limits.

The child is a fresh interpreter (`-I`: no user site, no PYTHONPATH, no cwd on sys.path) in its
own session (so a timeout kills everything it started), inside an empty temporary directory,
with a minimal environment (no proxy variables, no credentials), and a guard that runs before
the program: it caps address space, CPU time, file size and open files with setrlimit, makes
every socket call fail, and removes the usual ways to start processes or signal others.
This is defence in depth for benchmark code, not a security boundary against a determined
attacker: run evaluations of unknown models in a container or VM as well.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# The guard runs in the child before the program; argv: program path, memory MB, CPU seconds.
_GUARD = r"""
import resource, socket, _socket, sys, os, subprocess, shutil, builtins
mem = int(sys.argv[2]) * 2**20
cpu = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
resource.setrlimit(resource.RLIMIT_DATA, (mem, mem))
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 2**20, 16 * 2**20))
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

def _denied(*args, **kwargs):
    raise PermissionError("disabled in the evaluation sandbox")

class _Denied:
    def __init__(self, *args, **kwargs):
        raise PermissionError("disabled in the evaluation sandbox (no network, no processes)")

for module in (socket, _socket):
    module.socket = _Denied
for name in ("create_connection", "create_server", "socketpair", "fromfd", "getaddrinfo", "gethostbyname"):
    setattr(socket, name, _denied)
for name in ("system", "popen", "fork", "forkpty", "kill", "killpg", "execv", "execve", "execvp",
             "execl", "execlp", "spawnv", "spawnve", "posix_spawn", "posix_spawnp", "putenv",
             "chdir", "setuid", "rmdir", "removedirs"):
    if hasattr(os, name):
        setattr(os, name, _denied)
subprocess.Popen = _Denied
shutil.rmtree = _denied
path = sys.argv[1]
sys.argv = [path]
with open(path, encoding="utf-8") as handle:
    source = handle.read()
exec(compile(source, path, "exec"), {"__name__": "__main__", "__builtins__": builtins})
"""


@dataclass(frozen=True)
class Outcome:
    status: str  # "passed", "failed" (exception or non-zero exit), "timeout"
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def run_python(code: str, timeout: float = 10.0, memory_mb: int = 1024) -> Outcome:
    """Execute `code` as a script; it passes if it exits with status 0 within `timeout`."""
    with tempfile.TemporaryDirectory(prefix="santa-eval-") as tmp:
        program = Path(tmp) / "program.py"
        program.write_text(code, encoding="utf-8")
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "TMPDIR": tmp, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
        cpu = int(timeout) + 1
        command = [sys.executable, "-I", "-c", _GUARD, str(program), str(memory_mb), str(cpu)]
        proc = subprocess.Popen(
            command, cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return Outcome("timeout", f"no result within {timeout}s")
        finally:
            _kill_group(proc)  # whatever the program left running in its session
    if proc.returncode == 0:
        return Outcome("passed")
    tail = err.decode("utf-8", "replace").strip().splitlines()
    return Outcome("failed", tail[-1] if tail else f"exit status {proc.returncode}")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
