"""The circuit breaker wired into the client's retry loop, against the scripted gRPC server
(tests/client/fake_triton.py): the breaker's clock is moved by hand, the server's outage is
scripted by call number, so nothing here depends on timing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from client.breaker import Breaker, BreakerPolicy, State
from client.errors import ServerGone, ServerUnavailable
from client.retry import RetryPolicy
from client.triton import AsyncTritonModel, TritonModel
from tests.cli_run import run_cli
from tests.client.fake_triton import ALWAYS, SERVED, Script, fake_triton
from tests.data import PHOTOS
from u2net.contract import CONTRACT

FAST = RetryPolicy(retries=3, first_delay_s=0.01, max_delay_s=0.01, jitter=False)
POLICY = BreakerPolicy(grace_s=10.0, probe_interval_s=5.0)
RESOLVE_CALLS = 3  # ServerReady, ModelReady, ModelMetadata
BATCH = np.zeros((1, *CONTRACT.input_dims), CONTRACT.input_np_dtype)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def infer(api: str, model: TritonModel | AsyncTritonModel) -> object:
    if api == "sync":
        return model.infer(BATCH)  # type: ignore[union-attr]
    return asyncio.get_event_loop().run_until_complete(model.infer(BATCH))  # type: ignore[arg-type]


@pytest.mark.parametrize("api", ["sync", "async"])
def test_retries_within_the_grace_then_refused_at_once_then_a_probe_closes_it(api: str) -> None:
    clock = Clock()
    breaker = Breaker(POLICY, clock)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    with fake_triton(Script()) as fake:
        kind = TritonModel if api == "sync" else AsyncTritonModel
        model = loop.run_until_complete(_make(kind, fake.url, breaker))
        try:
            infer(api, model)  # served: from now on a lost server is waited for
            fake.script.down = range(len(fake.calls) + 1, 1 << 30)  # Triton goes away
            with pytest.raises(ServerUnavailable) as within:
                infer(api, model)  # within the grace: retried (1 + 3 attempts), as before
            assert not isinstance(within.value, ServerGone)
            assert fake.methods[-4:] == ["ModelInfer"] * 4 and breaker.state is State.CLOSED

            clock.now = POLICY.grace_s + 1  # still failing past the grace
            calls = len(fake.calls)
            with pytest.raises(ServerGone):
                infer(api, model)
            assert len(fake.calls) == calls + 1  # one attempt, then the breaker opened
            with pytest.raises(ServerGone) as refused:
                infer(api, model)
            assert len(fake.calls) == calls + 1  # refused without asking the server
            assert refused.value.retry_after_s == POLICY.probe_interval_s

            fake.script.down = range(0)  # Triton is back
            clock.now += POLICY.probe_interval_s
            masks = infer(api, model)  # the probe
            assert breaker.state is State.CLOSED and np.asarray(masks).shape[0] == 1
        finally:
            loop.run_until_complete(_close(model))
            loop.close()
            asyncio.set_event_loop(None)


async def _make(kind: type, url: str, breaker: Breaker) -> TritonModel | AsyncTritonModel:
    return kind(url, SERVED, timeout_s=30.0, retry=FAST, breaker=breaker)  # grpc.aio: in the loop


async def _close(model: TritonModel | AsyncTritonModel) -> None:
    closed = model.close()
    if asyncio.iscoroutine(closed):
        await closed


def test_a_folder_through_a_server_that_dies_stops_and_lists_every_file_not_cut(
    tmp_path: Path,
) -> None:
    """``cut`` of a folder: the server answers three photos, then is gone for good. The file
    in flight fails once the grace is over, and every later one is listed, not sent."""
    photos = tmp_path / "in"
    photos.mkdir()
    data = PHOTOS[0].read_bytes()
    names = [f"{i:03d}{PHOTOS[0].suffix}" for i in range(40)]
    for name in names:
        (photos / name).write_bytes(data)
    done_before_outage = 3
    with fake_triton(
        Script(down=range(RESOLVE_CALLS + done_before_outage + 1, ALWAYS.stop))
    ) as fake:
        done = run_cli(
            "client", "cut", photos, "-o", tmp_path / "out", "--url", fake.url,
            "--model", SERVED, "--concurrency", "1", "--timeout", "600", "--outage-grace", "0.5",
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    cut = sorted(p.name for p in (tmp_path / "out").iterdir())
    failed = [line for line in lines if line.startswith("failed: ")]
    unprocessed = [line.removeprefix("not processed: ") for line in lines
                   if line.startswith("not processed: ")]  # fmt: skip
    assert len(cut) == done_before_outage
    assert len(failed) == 1 and "has not answered for" in failed[0]
    assert unprocessed == [str(photos / n) for n in names[done_before_outage + 1 :]]
    assert fake.methods.count("ModelInfer") < done_before_outage + 60  # not one wait per file
    assert any(line.startswith("stopped: the Triton server at") for line in lines)
    assert f"not processed {len(unprocessed)}" in lines[-1]
