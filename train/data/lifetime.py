"""Helper processes die with the run, even when the run is killed with SIGKILL.

datatrove's LocalPipelineExecutor starts a multiprocess Manager (forked from the calling thread)
and, with several workers, a pool forked from a forkserver. Nothing in them watches for the
run's death: after `kill -9` the manager lives on forever, and a busy pool worker finishes its
task, writing into an output directory that a resumed run may already be using.

The manager is a child of the run: Linux's parent-death signal (prctl PR_SET_PDEATHSIG), armed by a
fork hook, makes the kernel SIGKILL it as soon as the run exits, however it exits. Pool workers
are children of the forkserver, which outlives the run for as long as any worker holds its pipe,
so `DieWithRun`, the first step of every stage, has each worker watch the run's process
itself (multiprocess keeps a handle on it) and kill itself when that process is gone.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import multiprocess
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

_PR_SET_PDEATHSIG = 1
# Per thread, so that only processes forked by the thread running the pipeline are affected.
_scope = threading.local()
_watching = False  # whether this process (a pool worker) already watches the run


def die_with_parent() -> None:
    """Asks the kernel to SIGKILL this process when its parent exits (Linux only)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _before_fork() -> None:
    _scope.parent = os.getpid()


def _after_fork_in_child() -> None:
    if getattr(_scope, "active", False):
        die_with_parent()
        if os.getppid() != _scope.parent:  # the parent died before the signal was armed
            os._exit(1)


os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


@contextmanager
def helpers_die_with_this_process() -> Iterator[None]:
    """Processes forked by this thread inside the block die when this process dies."""
    _scope.active = True
    try:
        yield
    finally:
        _scope.active = False


def _kill_self_when_gone(run: multiprocess.process.BaseProcess) -> None:
    def watch() -> None:
        run.join()  # returns when the run's end of the connection closes: the run is dead
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="die-with-run", daemon=True).start()


class DieWithRun(PipelineStep):
    """Makes a pool worker die with the run; a no-op in the process that runs the pipeline (with one
    worker, tasks run there, and it must not die with whatever started it)."""

    type = "🔗 - LIFETIME"
    name = "die with the run"

    def __init__(self) -> None:
        super().__init__()
        self.run_pid = os.getpid()

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        # A plain function, not a generator: it must act when the task starts, even in stages whose
        # steps never pull from their input (MinHash buckets and clusters).
        global _watching
        run = multiprocess.parent_process()  # the run's process, though the forkserver forked this one
        if os.getpid() != self.run_pid and run is not None and not _watching:
            _kill_self_when_gone(run)
            _watching = True  # a worker serves several tasks: one watcher is enough
        return data
