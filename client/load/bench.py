"""``python -m client bench``: a concurrency sweep in the spirit of perf_analyzer."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from client.cutter import Cutter
from client.load.loadgen import MEASUREMENT_HEADERS, Window, drive, measurements, stable
from client.statistics import (
    ServerStats,
    cache_note,
    counted,
    settled_statistics,
    stats_delta,
)
from u2net.image.io import encode
from u2net.options import OutputOptions

log = logging.getLogger(__name__)

MODES = ("server", "e2e")


@dataclass
class BenchRow:
    concurrency: int
    window: Window
    server: ServerStats
    windows: int
    stable: bool

    def as_dict(self) -> dict:
        return {
            "concurrency": self.concurrency,
            **measurements(self.window, self.server),
            "windows": self.windows,
            "stable": self.stable,
        }


HEADERS = ["concurrency", *MEASUREMENT_HEADERS, "windows", "stable"]


def make_sender(cutter: Cutter, mode: str, paths: list[Path], batch: np.ndarray):
    """server: pre-processed tensors only; e2e: decode, pre, infer, post and PNG encode."""
    if mode == "server":
        return lambda i: cutter.model.infer(batch[i % len(batch)][None])
    options = OutputOptions()
    return lambda i: encode(cutter.cut(paths[i % len(paths)], options), options)


def sweep(
    cutter: Cutter,
    mode: str,
    paths: list[Path],
    batch: np.ndarray,
    *,
    concurrencies: list[int],
    requests: int,
    max_windows: int,
) -> list[BenchRow]:
    send = make_sender(cutter, mode, paths, batch)
    name = cutter.connect()
    rows = []
    for c in concurrencies:
        start = cutter.model.statistics()
        warm_up = drive(send, 2 * c, c)
        sent = counted(start, name) + len(warm_up.latencies_s)
        after = settled_statistics(cutter.model.statistics, name, sent)
        throughputs: list[float] = []
        while True:
            before = after
            window = drive(send, max(requests, c), c)
            sent = counted(before, name) + len(window.latencies_s)
            after = settled_statistics(cutter.model.statistics, name, sent)
            throughputs.append(window.throughput)
            is_stable = stable(throughputs)
            if is_stable or len(throughputs) >= max_windows:
                break
        log.info(
            "concurrency %d: %.2f img/s after %d windows", c, window.throughput, len(throughputs)
        )
        server = stats_delta(before, after, name)
        if note := cache_note(server, name, len(window.latencies_s)):
            log.warning(note)
        rows.append(BenchRow(c, window, server, len(throughputs), is_stable))
    return rows
