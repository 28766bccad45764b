"""The UNAVAILABLE retry loop and the timeout message, against a real gRPC endpoint.

The endpoint is tests/client/fake_triton.py: Triton's gRPC service on loopback, answering
UNAVAILABLE, another error or nothing at all as scripted, and recording when each call
arrived. Timing is only bounded from below (a retry must wait at least its delay), so a
slow machine cannot make these tests fail.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import grpc
import numpy as np
import pytest

from client.errors import InferenceFailed, ServerUnavailable
from client.triton import AsyncTritonModel, TritonModel
from tests.cli_run import assert_one_line_error, run_cli
from tests.client.fake_triton import SERVED, Script, fake_triton
from tests.data import PHOTOS
from u2net.contract import CONTRACT
from u2net.retry import RetryPolicy

APIS = ["sync", "async"]
FAST = RetryPolicy(retries=3, first_delay_s=0.05, max_delay_s=0.1, jitter=False)  # .05 .1 .1


def resolve(api: str, url: str, retry: RetryPolicy, timeout_s: float = 10.0) -> str:
    """``resolve()`` of the blocking or the asyncio model."""
    if api == "sync":
        model = TritonModel(url, SERVED, timeout_s, retry)
        try:
            return model.resolve()
        finally:
            model.close()

    async def run() -> str:
        aio = AsyncTritonModel(url, SERVED, timeout_s, retry)
        try:
            return await aio.resolve()
        finally:
            await aio.close()

    return asyncio.run(run())


def infer(api: str, url: str, retry: RetryPolicy, timeout_s: float) -> np.ndarray:
    batch = np.zeros((1, *CONTRACT.input_dims), CONTRACT.input_np_dtype)
    if api == "sync":
        model = TritonModel(url, SERVED, timeout_s, retry)
        try:
            return model.infer(batch)
        finally:
            model.close()

    async def run() -> np.ndarray:
        aio = AsyncTritonModel(url, SERVED, timeout_s, retry)
        try:
            return await aio.infer(batch)
        finally:
            await aio.close()

    return asyncio.run(run())


def assert_waited_at_least(gaps: list[float], delays: list[float]) -> None:
    """Each retry arrived no sooner than its backoff delay after the previous attempt."""
    assert len(gaps) == len(delays), (gaps, delays)
    for gap, delay in zip(gaps, delays, strict=True):
        assert gap >= delay, (gaps, delays)


@pytest.mark.parametrize("retries", [0, 1, 3])
@pytest.mark.parametrize("api", APIS)
def test_unavailable_is_retried_then_reported(api: str, retries: int) -> None:
    policy = RetryPolicy(retries=retries, first_delay_s=0.05, max_delay_s=0.1, jitter=False)
    with fake_triton(Script(unavailable=-1)) as fake, pytest.raises(ServerUnavailable) as info:
        resolve(api, fake.url, policy)
    assert fake.methods == ["ServerReady"] * (retries + 1)
    assert_waited_at_least(fake.gaps(), list(policy.delays()))
    assert str(info.value) == (
        f"no Triton server answering at {fake.url}: start one with `python -m server` "
        "(or `docker compose up` on a GPU host)"
    )


@pytest.mark.parametrize("api", APIS)
def test_retry_succeeds_once_the_server_answers(api: str) -> None:
    with fake_triton(Script(unavailable=2)) as fake:
        assert resolve(api, fake.url, FAST) == SERVED
    assert fake.methods[:3] == ["ServerReady"] * 3
    assert fake.methods[3:] == ["ModelReady", "ModelMetadata"]  # u2netp_onnx asked by name
    assert_waited_at_least(fake.gaps()[:2], list(FAST.delays())[:2])


@pytest.mark.parametrize(
    "status", [grpc.StatusCode.INTERNAL, grpc.StatusCode.INVALID_ARGUMENT], ids=str
)
@pytest.mark.parametrize("api", APIS)
def test_other_errors_are_not_retried(api: str, status: grpc.StatusCode) -> None:
    failed = pytest.raises(InferenceFailed, match="fake Triton: scripted failure")
    with fake_triton(Script(abort_with=status)) as fake, failed:
        resolve(api, fake.url, FAST)
    assert fake.methods == ["ServerReady"]


@pytest.mark.parametrize("api", APIS)
def test_timeout_is_not_retried_and_says_raise_timeout(api: str) -> None:
    with fake_triton(Script(stall_infer=True)) as fake:
        started = time.monotonic()
        with pytest.raises(InferenceFailed) as info:
            infer(api, fake.url, FAST, timeout_s=0.5)
        elapsed = time.monotonic() - started
    assert str(info.value) == "timed out after 0.5s (raise --timeout)"
    assert fake.methods.count("ModelInfer") == 1
    assert elapsed >= 0.5


# ---- the command line --------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("retries", [0, 2])
def test_cli_retries_flag_sets_the_attempts(tmp_path: Path, retries: int) -> None:
    out = tmp_path / "x.png"
    with fake_triton(Script(unavailable=-1)) as fake:
        done = run_cli(
            "client", "cut", "--url", fake.url, "--retries", str(retries), PHOTOS[0], "-o", out
        )
    assert_one_line_error(done, f"no Triton server answering at {fake.url}", "python -m server")
    assert fake.methods == ["ServerReady"] * (retries + 1)  # the delays are jittered
    assert not out.exists()


def test_cli_dead_url_without_retries(tmp_path: Path) -> None:
    url = f"127.0.0.1:{_closed_port()}"
    done = run_cli(
        "client", "cut", "--url", url, "--retries", "0", PHOTOS[0], "-o", tmp_path / "x.png"
    )
    assert_one_line_error(done, f"no Triton server answering at {url}", "python -m server")
    assert done.stdout == ""


def test_cli_timeout_fails_the_file_with_the_hint(tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    with fake_triton(Script(stall_infer=True)) as fake:
        done = run_cli("client", "cut", "--url", fake.url, "--timeout", "0.5", PHOTOS[0], "-o", out)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert f"failed: {PHOTOS[0]}: timed out after 0.5s (raise --timeout)" in done.stderr
    assert fake.methods.count("ModelInfer") == 1
    assert not out.exists()
