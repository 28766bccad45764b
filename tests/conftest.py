"""Shared fixtures. ``triton_server``: one real ``python -m server`` for the whole session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from server.models import scan
from tests.servers import retire
from u2net.embedded import RunningServer, start
from u2net.repository import INTRA_OP_THREADS_ENV, default_repository

SESSION_MODEL = "u2netp_onnx"


def pytest_configure(config: pytest.Config) -> None:
    """Every server the tests start runs ONNX Runtime on one thread per session: three
    pytest-xdist workers share two cores, and sessions of one thread leave the others' work
    alone (measured: the inference-heavy test files took 20 % less CPU and 10 % less time;
    docs/measurements.md, "The test suite's workers"). A caller's own setting wins."""
    os.environ.setdefault(INTRA_OP_THREADS_ENV, "1")


@pytest.fixture(scope="session")
def triton_server() -> Iterator[RunningServer]:
    """``python -m server --models u2netp_onnx`` on free ports, stopped after the session.

    Yields an object with ``.grpc_url`` / ``.http_url`` ("127.0.0.1:PORT"), ``.process``.
    """
    staged = {e.name for e in scan(default_repository()) if e.staged}
    if SESSION_MODEL not in staged:
        pytest.skip(f"{SESSION_MODEL} is not staged; run `python -m convert` first")
    server = start(["--models", SESSION_MODEL], timeout=120.0)
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
