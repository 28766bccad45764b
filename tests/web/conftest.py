"""The gateway under test: the real app on uvicorn, in front of the session's real Triton."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli_run import run_cli
from tests.reference_masks import remembering_masks
from tests.web.serving import MODEL, Served, config_for, serve, until_models_learned


@pytest.fixture(scope="session")
def gateway(triton_server) -> Iterator[Served]:
    """Once its watcher knows what Triton has loaded (a model it lacks is then a 400)."""
    with serve(config_for(triton_server.grpc_url)) as served:
        with served.client() as client:
            until_models_learned(client)
        yield served


@pytest.fixture(scope="session")
def http(gateway: Served) -> Iterator[httpx.Client]:
    with gateway.client() as client:
        yield client


def cli_cut(triton_server, photo: Path, out: Path, *flags: str) -> bytes:
    """``python -m client cut`` (the CLI users run) with the same options: the expected bytes
    (the server's mask of each photo asked once: tests/reference_masks.py)."""
    with remembering_masks():
        done = run_cli(
            "client",
            "cut",
            photo,
            "-o",
            out,
            "--url",
            triton_server.grpc_url,
            "--model",
            MODEL,
            *flags,
        )
    assert done.returncode == 0, done.stderr
    return out.read_bytes()
