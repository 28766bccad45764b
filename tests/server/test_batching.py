"""Batches on the real server: every response carries its own images' masks.

Triton's dynamic batcher (GPU configuration) joins requests that queue while the model
instance is busy; the backend (server/backends/onnxruntime/model.py) concatenates them, runs
once and splits the result back. A mix-up in that split would hand one client another
client's mask, so each burst below sends *different* photos at once, checks from Triton's
statistics that a batch really formed, and compares every response with the same image
inferred on its own.

The contract's 1..16 images per request hold on both configurations; the CPU one runs a
request's images one ``session.run`` at a time, and must still return each image its mask.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from convert.model_config import CPU_BATCHING, BatchingPolicy
from server.embedded import RunningServer, start
from tests.servers import retire
from u2net.contract import CONTRACT
from u2net.repository.layout import MAX_SESSION_BATCH
from u2net.samples import varied_inputs

MODEL = "u2netp_onnx"
STATS_WAIT_S = 10.0
BURST_IMAGES = 10
MAX_BURSTS = 10  # a burst that happened to run unbatched is sent again, this many times


SENT: Counter[str] = Counter()  # images answered, per server URL


def infer(url: str, client: grpcclient.InferenceServerClient, batch: np.ndarray) -> np.ndarray:
    """``batch`` through the server at ``url`` (``client`` is connected to it), counted."""
    tensor = grpcclient.InferInput(CONTRACT.input_name, list(batch.shape), CONTRACT.input_dtype)
    tensor.set_data_from_numpy(np.ascontiguousarray(batch))
    masks = client.infer(MODEL, [tensor]).as_numpy(CONTRACT.output_name)
    SENT[url] += len(batch)
    return masks


@pytest.fixture(scope="module")
def gpu_config_server() -> Iterator[RunningServer]:
    """A server on config.pbtxt (the GPU host's): the CPU configuration (configs/cpu.pbtxt,
    the session's ``triton_server``) has no dynamic batcher: no batching on CPU, where it
    costs."""
    server = start(["--models", MODEL, "--model-config-name", "default"], timeout=120)
    try:
        yield server
    finally:
        retire(server)


@pytest.fixture(scope="module")
def full() -> np.ndarray:
    """A full request's worth of different inputs: the sample photos, then their flips."""
    return varied_inputs(CONTRACT.max_batch)


@pytest.fixture(scope="module")
def full_alone(gpu_config_server: RunningServer, full: np.ndarray) -> np.ndarray:
    """Each image's mask from a request of its own, sent one after the other (both
    configurations run the same session options, so the CPU one must give these too)."""
    url = gpu_config_server.grpc_url
    client = grpcclient.InferenceServerClient(url)
    masks = np.stack([infer(url, client, image[None])[0] for image in full])
    # a swap can only be caught if no two images share a mask
    assert len({m.tobytes() for m in masks}) == len(full)
    return masks


@pytest.fixture(scope="module")
def images(full: np.ndarray) -> np.ndarray:
    """Ten of them for the bursts: the five sample photos and their mirror images."""
    return full[:BURST_IMAGES]


@pytest.fixture(scope="module")
def alone(full_alone: np.ndarray) -> np.ndarray:
    return full_alone[:BURST_IMAGES]


@dataclass
class Burst:
    masks: list[np.ndarray]  # each request's response, in request order
    requests: int
    executions: int  # how many model executions Triton needed for them

    @property
    def batched(self) -> bool:
        return self.executions < self.requests


def _counts(client: grpcclient.InferenceServerClient) -> tuple[int, int]:
    stats = client.get_inference_statistics(MODEL, as_json=True)["model_stats"][0]
    return int(stats.get("inference_count", 0)), int(stats.get("execution_count", 0))


def burst(url: str, batches: list[np.ndarray]) -> Burst:
    """Send each batch as its own request, all released at the same moment from threads."""
    clients = [grpcclient.InferenceServerClient(url) for _ in batches]
    for client in clients:
        assert client.is_server_live()  # connected before the start line
    start = threading.Barrier(len(batches))

    def send(i: int) -> np.ndarray:
        start.wait()
        return infer(url, clients[i], batches[i])

    # Triton counts an answered request just after answering it: first wait (bounded) until
    # everything sent to this server before is counted, so the baseline is exact
    deadline = time.monotonic() + STATS_WAIT_S
    while _counts(clients[0])[0] < SENT[url] and time.monotonic() < deadline:
        time.sleep(0.05)
    inferences_before, executions_before = _counts(clients[0])
    with ThreadPoolExecutor(len(batches)) as pool:
        masks = list(pool.map(send, range(len(batches))))
    # Triton may update its statistics just after the responses went out: wait (bounded)
    # until every image is counted. Nothing else talks to this model meanwhile, so the
    # images counted are exactly ours.
    images = sum(len(b) for b in batches)
    deadline = time.monotonic() + STATS_WAIT_S
    while True:
        inferences, executions = _counts(clients[0])
        if inferences - inferences_before >= images or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert inferences - inferences_before == images
    return Burst(masks, len(batches), executions - executions_before)


def assert_bursts_match(url: str, batches: list[np.ndarray], expected: list[np.ndarray]) -> None:
    """Burst until Triton batched at least two requests together (bounded); every response
    of every burst must equal the images' masks inferred alone, bit for bit."""
    seen: list[int] = []
    for _ in range(MAX_BURSTS):
        result = burst(url, batches)
        for got, want in zip(result.masks, expected, strict=True):
            assert got.shape == want.shape
            np.testing.assert_array_equal(got, want)
        seen.append(result.executions)
        if result.batched:
            return
    pytest.fail(f"{len(batches)} requests never shared an execution; executions: {seen}")


def test_concurrent_different_photos_each_get_their_own_mask(
    gpu_config_server: RunningServer, images: np.ndarray, alone: np.ndarray
) -> None:
    batches = [image[None] for image in images]
    expected = [mask[None] for mask in alone]
    assert_bursts_match(gpu_config_server.grpc_url, batches, expected)


def test_mixed_batch_sizes_are_split_back_per_request(
    gpu_config_server: RunningServer, images: np.ndarray, alone: np.ndarray
) -> None:
    """One request carries 3 images, others 1 and 2: each gets exactly its own masks back,
    whichever of them runs first, alone, and whichever are batched together."""
    sizes = (1, 3, 2, 1, 2)
    edges = np.cumsum([0, *sizes])
    assert edges[-1] <= len(images)
    batches = [images[a:b] for a, b in itertools.pairwise(edges)]
    expected = [alone[a:b] for a, b in itertools.pairwise(edges)]
    assert_bursts_match(gpu_config_server.grpc_url, batches, expected)


def test_the_embedded_server_runs_the_cpu_configuration(
    triton_server: RunningServer, gpu_config_server: RunningServer
) -> None:
    def served(server: RunningServer) -> tuple[int, bool, str | None]:
        client = grpcclient.InferenceServerClient(server.grpc_url)
        config = client.get_model_config(MODEL, as_json=True)["config"]
        session_batch = config.get("parameters", {}).get(MAX_SESSION_BATCH, {})
        batcher = "dynamic_batching" in config
        return int(config["max_batch_size"]), batcher, session_batch.get("string_value")

    cpu, gpu = CPU_BATCHING, BatchingPolicy()
    assert served(triton_server) == (
        CONTRACT.max_batch,
        cpu.dynamic_batching,
        str(cpu.max_session_batch),
    )
    assert served(gpu_config_server) == (CONTRACT.max_batch, gpu.dynamic_batching, None)


SERVERS = ["triton_server", "gpu_config_server"]  # the CPU and the GPU configuration


@pytest.mark.parametrize(
    ("server", "count"),
    [
        # one session.run per image: the same loop for 4 images as for 16 (the contract's
        # 16 through the server: gpu-config; the slices: test_onnxruntime_backend.py)
        pytest.param("triton_server", 4, id="cpu-config"),
        pytest.param("gpu_config_server", CONTRACT.max_batch, id="gpu-config"),  # one run
    ],
)
def test_a_full_request_gets_each_image_its_own_mask(
    request: pytest.FixtureRequest,
    server: str,
    count: int,
    full: np.ndarray,
    full_alone: np.ndarray,
) -> None:
    """Different images in one request (16, the contract's most, where they run as one
    batch): the masks of each alone, in order, bit for bit."""
    url = request.getfixturevalue(server).grpc_url
    client = grpcclient.InferenceServerClient(url)
    np.testing.assert_array_equal(infer(url, client, full[:count]), full_alone[:count])


@pytest.mark.parametrize("server", SERVERS, ids=["cpu-config", "gpu-config"])
def test_more_than_the_contract_is_refused_clearly(
    request: pytest.FixtureRequest, server: str
) -> None:
    url = request.getfixturevalue(server).grpc_url
    client = grpcclient.InferenceServerClient(url)
    too_many = varied_inputs(CONTRACT.max_batch + 1)
    with pytest.raises(InferenceServerException) as refused:
        infer(url, client, too_many)
    assert "INVALID_ARG" in str(refused.value.status())
    assert f"batch-size must be <= {CONTRACT.max_batch}" in refused.value.message()
    assert infer(url, client, too_many[:1]).shape == (1, *CONTRACT.output_dims)
