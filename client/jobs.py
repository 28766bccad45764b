"""Cut a list of jobs (input file -> output file): the rest carries on when one fails, unless
the server is judged gone (the breaker opened: :class:`client.errors.ServerGone`); then the
jobs not yet sent are not sent, and listed as not processed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from client.errors import OutputError, ServerGone
from client.inputs import Job
from client.pipeline import map_ordered
from u2net.errors import ServingError, TooManyPixels
from u2net.options import OutputOptions
from u2net.repository.files import atomic_write_bytes

log = logging.getLogger(__name__)


@dataclass
class Summary:
    done: int = 0
    skipped: int = 0
    failures: list[tuple[Path, str]] = field(default_factory=list)
    unprocessed: list[Path] = field(default_factory=list)  # never sent: the server was gone
    gone: str | None = None  # why they were not sent
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (
            f"done {self.done}, failed {len(self.failures)}, skipped {self.skipped}"
            + (f", not processed {len(self.unprocessed)}" if self.unprocessed else "")
            + f" in {self.seconds:.1f}s ({self.rate:.2f} images/s)"
        )


def write_output(target: Path, data: bytes) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, data)
    except OSError as e:
        raise OutputError(f"cannot write {target}: {e.strerror or e}") from e


class FileCutter(Protocol):
    """What the jobs need: the local :class:`client.Cutter` or the server-side one."""

    concurrency: int

    def connect(self) -> str: ...

    def cut_file(self, path: Path, options: OutputOptions) -> bytes: ...


def run_jobs(
    cutter: FileCutter,
    jobs: list[Job],
    options: OutputOptions,
    skip_existing: bool = False,
    progress: Callable[[Iterable], Iterable] = lambda it: it,
) -> Summary:
    summary = Summary()
    inputs = {job.source.resolve() for job in jobs}
    todo: list[Job] = []
    for job in jobs:
        if job.target.resolve() in inputs:
            summary.failures.append((job.source, f"refusing to overwrite input {job.target}"))
        elif skip_existing and job.target.exists():
            summary.skipped += 1
        else:
            todo.append(job)

    gone: list[ServerGone] = []  # set once, from any worker thread

    def one(job: Job) -> bool:
        """Cut one job; False when it was not sent because the server is gone."""
        if gone:
            return False
        try:
            write_output(job.target, cutter.cut_file(job.source, options))
        except ServerGone as e:
            gone.append(e)
            raise
        return True

    start = time.perf_counter()
    if todo:
        cutter.connect()  # a dead server or unknown model stops the run here
    results = map_ordered(one, todo, cutter.concurrency, return_exceptions=True)
    for job, result in zip(todo, progress(results), strict=True):
        if isinstance(result, ServingError):
            summary.failures.append((job.source, failure_line(result)))
        elif isinstance(result, Exception):
            raise result
        elif result:
            summary.done += 1
            log.debug("%s -> %s", job.source, job.target)
        else:
            summary.unprocessed.append(job.source)
    summary.gone = str(gone[0]) if gone else None
    summary.seconds = time.perf_counter() - start
    return summary


def failure_line(error: ServingError) -> str:
    """A file's failure as the run's summary says it: a photo over the pixel limit says how
    to allow it (the limit is this command's own flag)."""
    if isinstance(error, TooManyPixels):
        return f"{error}; raise --max-pixels to allow it"
    return str(error)
