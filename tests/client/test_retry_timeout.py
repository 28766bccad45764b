"""The one client's retry loop and errors, against a real gRPC endpoint, blocking and asyncio.

The endpoint is tests/client/fake_triton.py: Triton's gRPC service on loopback, answering
UNAVAILABLE, another error or nothing at all as scripted, and recording when each call
arrived. Timing is bounded from below (a retry must wait at least its delay) and, where
failing fast is the point, generously from above, so a slow machine cannot fail these tests.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import grpc
import numpy as np
import pytest

from client import retry
from client.errors import InferenceFailed, ModelNotReady, ServerUnavailable
from client.retry import FIRST_CONTACT_S, RetryPolicy
from client.triton import AsyncTritonModel, TritonModel
from tests.cli_run import assert_one_line_error, run_cli
from tests.client.fake_triton import ALWAYS, SERVED, Script, fake_triton
from tests.data import PHOTOS
from u2net.contract import CONTRACT

APIS = ["sync", "async"]
FAST = RetryPolicy(retries=3, first_delay_s=0.05, max_delay_s=0.1, jitter=False)  # .05 .1 .1
EVERY_100_MS = RetryPolicy(first_delay_s=0.1, max_delay_s=0.1, jitter=False)  # no count
FIRST_CONTACT_HERE_S = 1.0  # the tests' own, for FIRST_CONTACT_S's 2 s: the same rule, sooner
UNKNOWN = "Request for unknown model: 'u2netp_onnx' has no available versions"
HINT = "start one with `python -m server` (or `docker compose up` on a GPU host)"
# a stalled inference's --timeout: the calls that resolve the model before it get the same
# budget each, and a loaded machine's first connection must fit in it
STALL_TIMEOUT_S = 1.5


def use(api: str, url: str, retry: RetryPolicy, timeout_s: float, what: str) -> object:
    """``resolve()`` or ``infer()`` (one image) on a new blocking or asyncio model."""
    batch = np.zeros((1, *CONTRACT.input_dims), CONTRACT.input_np_dtype)
    if api == "sync":
        model = TritonModel(url, SERVED, timeout_s=timeout_s, retry=retry)
        try:
            return model.resolve() if what == "resolve" else model.infer(batch)
        finally:
            model.close()

    async def run() -> object:
        # inside the loop, as grpc.aio needs
        aio = AsyncTritonModel(url, SERVED, timeout_s=timeout_s, retry=retry)
        try:
            return await (aio.resolve() if what == "resolve" else aio.infer(batch))
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
    with fake_triton(Script(down=ALWAYS)) as fake, pytest.raises(ServerUnavailable) as info:
        use(api, fake.url, policy, 10.0, "resolve")
    assert fake.methods == ["ServerReady"] * (retries + 1)
    assert_waited_at_least(fake.gaps(), list(policy.delays()))
    assert str(info.value) == f"no Triton server answering at {fake.url}: {HINT}"


@pytest.mark.parametrize("api", APIS)
def test_retry_succeeds_once_the_server_answers(api: str) -> None:
    with fake_triton(Script(down=range(1, 3))) as fake:
        assert use(api, fake.url, FAST, 10.0, "resolve") == SERVED
    assert fake.methods[:3] == ["ServerReady"] * 3
    assert fake.methods[3:] == ["ModelReady", "ModelMetadata"]  # u2netp_onnx asked by name
    assert_waited_at_least(fake.gaps()[:2], list(FAST.delays())[:2])


@pytest.fixture
def first_contact_s(monkeypatch: pytest.MonkeyPatch) -> float:
    """How long a server never reached is tried, shortened for the test's client."""
    assert FIRST_CONTACT_HERE_S < FIRST_CONTACT_S
    monkeypatch.setattr(retry, "FIRST_CONTACT_S", FIRST_CONTACT_HERE_S)
    return FIRST_CONTACT_HERE_S


@pytest.mark.parametrize("api", APIS)
def test_a_server_never_reached_fails_within_seconds(api: str, first_contact_s: float) -> None:
    """Nothing answers: a few attempts (a server still starting gets a moment), then the
    error, long before the 60 s deadline."""
    with fake_triton(Script(down=ALWAYS)) as fake, pytest.raises(ServerUnavailable) as info:
        started = time.monotonic()
        try:
            use(api, fake.url, EVERY_100_MS, 60.0, "resolve")
        finally:
            elapsed = time.monotonic() - started
    assert elapsed < 10.0
    assert 1 < len(fake.methods) <= first_contact_s / 0.1 + 1
    assert str(info.value) == f"no Triton server answering at {fake.url}: {HINT}"


@pytest.mark.parametrize("api", APIS)
def test_a_server_that_answered_is_waited_for_until_it_is_back(
    api: str, first_contact_s: float
) -> None:
    """It answered (the model resolved), then was gone for longer than a never-reached
    server is given: the inference is retried until it answers (a restart loses nothing)."""
    outage = range(4, 4 + 20)  # 20 calls, 0.1 s apart: about twice first_contact_s
    with fake_triton(Script(down=outage)) as fake:
        masks = use(api, fake.url, EVERY_100_MS, 60.0, "infer")
    assert masks.shape == (1, *CONTRACT.output_dims)  # type: ignore[union-attr]
    assert fake.methods[:3] == ["ServerReady", "ModelReady", "ModelMetadata"]
    assert fake.methods[3:] == ["ModelInfer"] * (len(outage) + 1)
    infer_started = fake.calls[3][1]
    assert fake.calls[-1][1] - infer_started > first_contact_s


@pytest.mark.parametrize("api", APIS)
def test_not_found_is_retried_only_for_a_model_served_before(api: str) -> None:
    """A model that answered NOT_FOUND after serving is a restarted server still loading;
    NOT_FOUND before it ever served is reported at once."""
    restarted = Script(
        down=range(4, 7), down_status=grpc.StatusCode.NOT_FOUND, down_message=UNKNOWN
    )
    with fake_triton(restarted) as fake:
        use(api, fake.url, FAST, 10.0, "infer")
    assert fake.methods.count("ModelInfer") == 4
    unknown = Script(down=range(3, 4), down_status=grpc.StatusCode.NOT_FOUND, down_message=UNKNOWN)
    with fake_triton(unknown) as fake, pytest.raises(ModelNotReady, match=UNKNOWN):
        use(api, fake.url, FAST, 10.0, "infer")
    assert fake.methods == ["ServerReady", "ModelReady", "ModelMetadata"]


@pytest.mark.parametrize(
    "status", [grpc.StatusCode.INTERNAL, grpc.StatusCode.INVALID_ARGUMENT], ids=str
)
@pytest.mark.parametrize("api", APIS)
def test_other_errors_are_not_retried(api: str, status: grpc.StatusCode) -> None:
    failed = pytest.raises(InferenceFailed, match="fake Triton: scripted failure")
    with fake_triton(Script(abort_with=status)) as fake, failed:
        use(api, fake.url, FAST, 10.0, "resolve")
    assert fake.methods == ["ServerReady"]


@pytest.mark.parametrize("api", APIS)
def test_timeout_is_not_retried_and_says_raise_timeout(api: str) -> None:
    with fake_triton(Script(stall_infer=True)) as fake:
        started = time.monotonic()
        with pytest.raises(InferenceFailed) as info:
            use(api, fake.url, FAST, STALL_TIMEOUT_S, "infer")
        elapsed = time.monotonic() - started
    assert str(info.value) == f"timed out after {STALL_TIMEOUT_S}s (raise --timeout)"
    assert fake.methods.count("ModelInfer") == 1
    assert elapsed >= STALL_TIMEOUT_S


# ---- the command line --------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("retries", [0, 2])
def test_cli_retries_flag_sets_the_attempts(tmp_path: Path, retries: int) -> None:
    out = tmp_path / "x.png"
    with fake_triton(Script(down=ALWAYS)) as fake:
        done = run_cli(
            "client", "cut", "--url", fake.url, "--retries", str(retries), PHOTOS[0], "-o", out
        )
    assert_one_line_error(done, f"no Triton server answering at {fake.url}", "python -m server")
    assert fake.methods == ["ServerReady"] * (retries + 1)  # the delays are jittered
    assert not out.exists()


def test_cli_with_nothing_listening_answers_within_seconds(tmp_path: Path) -> None:
    """``python -m client cut`` as users run it (default retries and timeout): the whole
    command, Python's start included, says so in a few seconds (about 3 here, 60 before)."""
    url = f"127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    done = run_cli("client", "cut", "--url", url, PHOTOS[0], "-o", tmp_path / "x.png")
    elapsed = time.monotonic() - started
    assert_one_line_error(done, f"no Triton server answering at {url}: {HINT}")
    assert done.stdout == ""
    assert elapsed < 10.0


def test_cli_timeout_fails_the_file_with_the_hint(tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    with fake_triton(Script(stall_infer=True)) as fake:
        timeout = ["--timeout", str(STALL_TIMEOUT_S)]
        done = run_cli("client", "cut", "--url", fake.url, *timeout, PHOTOS[0], "-o", out)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    timed_out = f"timed out after {STALL_TIMEOUT_S}s (raise --timeout)"
    assert f"failed: {PHOTOS[0]}: {timed_out}" in done.stderr
    assert fake.methods.count("ModelInfer") == 1
    assert not out.exists()
