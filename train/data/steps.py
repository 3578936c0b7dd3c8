"""Building blocks shared by every step: a filter base class and the per-step bookkeeping.

`Measured` wraps any datatrove step (ours or datatrove's own) and records, per language, the
files and bytes that enter and leave it plus the time spent inside it. The counters go through
datatrove's per-task stats files, which are written atomically with the task's completion
marker, so a resumed run's report still covers the tasks finished before the interruption.

A step that drops documents names the reason (`dropped/<reason>` counters) and, when the
pipeline gives it an `exclusion_writer` (datatrove's convention for filters), also writes each
dropped document there with the reason in `metadata["filter_reason"]`: the report says how
many files went and why, the exclusion files say which ones.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from time import perf_counter

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers.disk_base import DiskWriter


def document_bytes(doc: Document) -> int:
    # Undecodable files reach the first filter with no text; count their size on disk instead.
    return len(doc.text.encode("utf-8")) if doc.text else int(doc.metadata.get("raw_bytes", 0))


class Dropping(PipelineStep):
    """A step that drops documents: counts them per reason and hands them to its exclusion writer."""

    exclusion_writer: DiskWriter | None = None  # set by the pipeline

    def exclusions(self) -> AbstractContextManager[DiskWriter | None]:
        return self.exclusion_writer if self.exclusion_writer is not None else nullcontext()

    def drop(self, doc: Document, why: str, writer: DiskWriter | None, rank: int) -> None:
        self.stat_update(f"dropped/{why}")
        if writer is not None:
            doc.metadata["filter_reason"] = why
            writer.write(doc, rank)


class DocFilter(Dropping):
    """Keeps a document unless `reason` names why it should go."""

    type = "🔻 - FILTER"

    @abstractmethod
    def reason(self, doc: Document) -> str | None:
        """None keeps the document; a short string drops it and names the cause."""

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with self.exclusions() as writer:
            for doc in data:
                why = self.reason(doc)
                if why is None:
                    yield doc
                else:
                    self.drop(doc, why, writer, rank)


class Measured(PipelineStep):
    type = "📏 - STEP"

    def __init__(self, label: str, inner: PipelineStep):
        self.name = label
        super().__init__()
        self.inner = inner

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
        self.stats.stats = self.stats.stats + self.inner.stats.stats
