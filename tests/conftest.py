"""Shared fixtures. ``triton_server``: one real ``python -m server`` for the whole session."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator

import pytest

from server.embedded import RunningServer, start
from server.models import scan
from tests.servers import retire
from u2net.repository.layout import INTRA_OP_THREADS_ENV, default_repository

SESSION_MODEL = "u2netp_onnx"
# The session's servers answer an image seen before from Triton's response cache: three in
# four of the images the suite sends them repeat one they were sent before (the sample photos
# again, under other options), docs/measurements.md, "A clean clone's CI"
SESSION_CACHE_MB = 64


def import_anyio_now() -> None:
    """Import what anyio (Starlette's) would import on first use, here in the main thread.
    pytest rewrites the assertions of every package that ships a pytest plugin, anyio's
    included, and its rewriter's ``ast.parse`` is not thread-safe on CPython 3.11.7
    (python/cpython#106905): two in-process uvicorn threads importing anyio's lazy parts at
    once failed a test with "SystemError: AST constructor recursion depth mismatch"."""
    import anyio
    import anyio.abc

    for module in (anyio, anyio.abc):
        for name in dir(module):
            getattr(module, name)
    importlib.import_module("anyio._backends._asyncio")  # what its event loop calls loads


def pytest_configure(config: pytest.Config) -> None:
    """Every server the tests start runs ONNX Runtime on one thread per session: three
    pytest-xdist workers share two cores, and sessions of one thread leave the others' work
    alone (measured: the inference-heavy test files took 20 % less CPU and 10 % less time;
    docs/measurements.md, "The test suite's workers"). A caller's own setting wins."""
    os.environ.setdefault(INTRA_OP_THREADS_ENV, "1")
    import_anyio_now()
    # pytest-xdist (>= 3.6) hands out the files with the most tests first, which leaves the
    # slow files of a few tests (restarts, replicas) to run last, alone: the order of
    # pytest_collection_modifyitems below is kept instead
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


# The test files that take longest under `make test` (three workers, --dist loadfile), in
# rough seconds (measured 2026-12-07 04:45, the session's servers caching; refresh from
# `--durations=0` totals per file when they move). They are handed out first, longest
# first, and every other file after them in the order they are collected: the workers
# finish together instead of one running a long file alone at the end, and the files that
# mostly wait (server starts and restarts) overlap the others' inference. The order
# changes no test's outcome, only the wall time.
LONGEST_FILES = {
    "tests/client/test_resilience.py": 96,
    "tests/client/load/test_ab_bench_e2e.py": 74,
    "tests/server/test_batching.py": 68,
    "tests/convert/test_graph.py": 56,
    "tests/convert/test_fetch.py": 38,
    "tests/web/test_browser_ui.py": 36,
    "tests/model_repository/test_cutout_e2e.py": 35,
    "tests/client/test_cut_e2e.py": 32,
    "tests/web/test_ops.py": 28,
    "tests/web/test_restart.py": 28,
    "tests/convert/quantize/test_stage.py": 28,
    "tests/server/test_server.py": 28,
    "tests/convert/test_custom_e2e.py": 27,
    "tests/doctor/test_e2e.py": 25,
    "tests/u2net/image/test_decode.py": 24,
    "tests/u2net/test_field_parsers_total.py": 22,
    "tests/server/test_onnxruntime_backend.py": 20,
    "tests/web/test_rembg_api.py": 20,
    "tests/web/test_cli.py": 19,
    "tests/convert/trt/test_families.py": 16,
    "tests/web/test_browser.py": 15,
    "tests/client/test_retry_timeout.py": 15,
    "tests/convert/test_stage.py": 14,
    "tests/deploy/test_k8s_schemas.py": 13,
    "tests/client/test_frames.py": 13,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files first (see LONGEST_FILES); a file's tests stay together and in
    their own order (a stable sort)."""
    items.sort(key=lambda item: -LONGEST_FILES.get(item.nodeid.split("::")[0], 0))


@pytest.fixture(scope="session")
def triton_server() -> Iterator[RunningServer]:
    """``python -m server --models u2netp_onnx --response-cache-mb 64`` on free ports,
    stopped after the session.

    Yields an object with ``.grpc_url`` / ``.http_url`` ("127.0.0.1:PORT"), ``.process``.
    """
    staged = {e.name for e in scan(default_repository()) if e.staged}
    if SESSION_MODEL not in staged:
        pytest.skip(f"{SESSION_MODEL} is not staged; run `python -m convert` first")
    cache = ["--response-cache-mb", str(SESSION_CACHE_MB)]
    server = start(["--models", SESSION_MODEL, *cache], timeout=120.0)
    try:
        yield server
    finally:
        retire(server)


@pytest.fixture(scope="session")
def both_models_server() -> Iterator[RunningServer]:
    """A second real server with u2net_onnx (176 MB) next to u2netp_onnx, started once for
    the session's tests that need the big model (``slow``)."""
    staged = {e.name for e in scan(default_repository()) if e.staged}
    if "u2net_onnx" not in staged:
        pytest.skip("u2net_onnx is not staged; run `python -m convert` first")
    server = start(["--models", "u2net_onnx,u2netp_onnx"], timeout=300.0)
    try:
        yield server
    finally:
        retire(server)
