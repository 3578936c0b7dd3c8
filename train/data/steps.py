"""The per-step bookkeeping shared by every step.

Filters are datatrove `BaseFilter`s: `filter(doc)` keeps a document (True) or drops it with a
reason ((False, reason)). BaseFilter counts drops per reason (`dropped_<reason>`) and, when the
pipeline gives it an `exclusion_writer`, writes each dropped document there with the reason in
`metadata["filter_reason"]`: the report says how many files went and why, the exclusion files
say which ones.

`Measured` wraps any datatrove step (ours or datatrove's own) and records, per language, the
files and bytes that enter and leave it plus the time spent inside it. The counters go through
datatrove's per-task stats files, which are written atomically with the task's completion
marker, so a resumed run's report still covers the tasks finished before the interruption.
"""

from __future__ import annotations

from collections.abc import Iterator
from time import perf_counter

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep


def document_bytes(doc: Document) -> int:
    # Undecodable files reach the first filter with no text; count their size on disk instead.
    return len(doc.text.encode("utf-8")) if doc.text else int(doc.metadata.get("raw_bytes", 0))


class Measured(PipelineStep):
    type = "📏 - STEP"

    def __init__(self, label: str, inner: PipelineStep):
        self.name = label
        super().__init__()
        self.inner = inner
        # The executor saves the stats of the steps it was given, not of steps inside them: the
        # inner step records its own counters (drops per reason, redactions) into ours.
        inner.stats = self.stats

    def _count(self, direction: str, doc: Document) -> None:
        lang = doc.metadata.get("lang", "unknown")
        self.stat_update(f"files_{direction}/{lang}")
        self.stat_update(f"bytes_{direction}/{lang}", value=document_bytes(doc))

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        upstream = 0.0

        def counted(source: Iterator[Document]) -> Iterator[Document]:
            nonlocal upstream
            while True:
                started = perf_counter()
                doc = next(source, None)
                upstream += perf_counter() - started
                if doc is None:
                    return
                self._count("in", doc)
                yield doc

        own = 0.0
        started = perf_counter()
        inner_input = counted(iter(data)) if data is not None else None
        for doc in self.inner.run(inner_input, rank, world_size):
            own += perf_counter() - started
            self._count("out", doc)
            yield doc  # time spent downstream while suspended here is not ours
            started = perf_counter()
        own += perf_counter() - started
        self.stat_update("seconds", value=own - upstream, unit="task")
