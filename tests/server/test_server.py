"""``python -m server`` end to end: a real Triton 2.51 serving model_repository/ on this host."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from server import backend_dir, distribution, models, shm
from server.distribution import ALLOCATOR_ENV
from server.embedded import RunningServer, start
from server.launch import free_ports
from server.process import group_members
from tests.cli_run import run_cli
from tests.server.http_admin import over_http
from tests.waiting import until
from u2net.contract import CONTRACT, CUTOUT
from u2net.image.io import open_rgb
from u2net.image.render import to_model_input
from u2net.repository.layout import default_repository
from u2net.samples import SAMPLE_NAMES, sample_dir

MODEL = "u2netp_onnx"
REPOSITORY = default_repository()
PHOTOS = SAMPLE_NAMES


def photo(name: str) -> np.ndarray:
    """One sample photo as the model's input (the core's own pre-processing)."""
    return to_model_input(open_rgb(sample_dir() / name))


def make_input(batch: np.ndarray, datatype: str = CONTRACT.input_dtype) -> grpcclient.InferInput:
    tensor = grpcclient.InferInput(CONTRACT.input_name, list(batch.shape), datatype)
    tensor.set_data_from_numpy(batch)
    return tensor


def infer(client: grpcclient.InferenceServerClient, batch: np.ndarray) -> np.ndarray:
    result = client.infer(MODEL, [make_input(batch)])
    return result.as_numpy(CONTRACT.output_name)


def port_args() -> list[str]:
    grpc, http, metrics = free_ports(3)
    return ["--grpc-port", str(grpc), "--http-port", str(http), "--metrics-port", str(metrics)]


@pytest.fixture
def client(triton_server: RunningServer) -> grpcclient.InferenceServerClient:
    return grpcclient.InferenceServerClient(triton_server.grpc_url)


def test_ready_line_and_health(
    triton_server: RunningServer, client: grpcclient.InferenceServerClient
) -> None:
    assert triton_server.ready_line == (
        f"ready: grpc {triton_server.grpc_url} http {triton_server.http_url} "
        f"metrics {triton_server.metrics_url} models: {CUTOUT.name}, {MODEL}"
    )  # cutout comes along: it serves the requested model
    assert client.is_server_ready()
    assert client.is_model_ready(MODEL) and client.is_model_ready(CUTOUT.name)


@pytest.mark.parametrize("name", PHOTOS[:2])
def test_inference_returns_contract_mask(
    client: grpcclient.InferenceServerClient, name: str
) -> None:
    mask = infer(client, photo(name)[None])
    assert mask.dtype == CONTRACT.output_np_dtype
    assert mask.shape == (1, *CONTRACT.output_dims)
    assert int(mask.max()) - int(mask.min()) > 100  # a real foreground/background split


def _cache_counts(client: grpcclient.InferenceServerClient) -> tuple[int, int]:
    stats = client.get_inference_statistics(MODEL, as_json=True)["model_stats"][0]
    inference = stats["inference_stats"]
    return tuple(int(inference.get(k, {}).get("count", 0)) for k in ("cache_hit", "cache_miss"))


def test_an_image_seen_before_is_answered_from_the_response_cache(
    client: grpcclient.InferenceServerClient,
) -> None:
    """The session's server runs with ``--response-cache-mb``: an image new to it is computed
    (a miss), the same image again is a hit with the same mask."""
    # upside down and shifted: no other test sends this image
    new = np.ascontiguousarray(np.roll(photo(PHOTOS[0])[::-1, ::-1], 7, axis=1))[None]
    hits, misses = _cache_counts(client)
    first, again = infer(client, new), infer(client, new)
    np.testing.assert_array_equal(first, again)
    # Triton counts a request a moment after answering it
    until(lambda: _cache_counts(client) == (hits + 1, misses + 1), "a hit and a miss counted", 10)


@pytest.mark.parametrize(
    ("batch", "datatype"),
    [
        (np.zeros((1, *CONTRACT.input_dims), np.float32), "FP32"),
        (np.zeros((1, CONTRACT.size, CONTRACT.size // 2, CONTRACT.channels), np.uint8), "UINT8"),
        (np.zeros((1, CONTRACT.size, CONTRACT.size), np.uint8), "UINT8"),
    ],
    ids=["wrong-dtype", "wrong-width", "missing-channels"],
)
def test_bad_request_is_refused_and_server_keeps_serving(
    client: grpcclient.InferenceServerClient, batch: np.ndarray, datatype: str
) -> None:
    with pytest.raises(InferenceServerException) as refused:
        client.infer(MODEL, [make_input(batch, datatype)])
    assert "INVALID_ARG" in str(refused.value.status()) or "expect" in refused.value.message()
    assert infer(client, photo(PHOTOS[0])[None]).shape == (1, *CONTRACT.output_dims)


def _grpc_calls(url: str) -> dict[str, Callable[[], object]]:
    c = grpcclient.InferenceServerClient(url)
    return {
        "grpc-unload": lambda: c.unload_model(MODEL),
        "grpc-load": lambda: c.load_model(MODEL),
        "grpc-index": c.get_model_repository_index,
    }


def _http_calls(url: str) -> dict[str, Callable[[], object]]:
    return {
        "http-unload": lambda: over_http(url, lambda c: c.unload_model(MODEL)),
        "http-load": lambda: over_http(url, lambda c: c.load_model(MODEL)),
    }


@pytest.mark.parametrize(
    "call", ["grpc-unload", "grpc-load", "grpc-index", "http-unload", "http-load"]
)
def test_model_control_refused_by_default(triton_server: RunningServer, call: str) -> None:
    calls = {**_grpc_calls(triton_server.grpc_url), **_http_calls(triton_server.http_url)}
    with pytest.raises(InferenceServerException, match="restricted"):
        calls[call]()
    assert grpcclient.InferenceServerClient(triton_server.grpc_url).is_model_ready(MODEL)


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _environ(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(p.decode().split("=", 1) for p in pairs if b"=" in p)


def test_the_stubs_run_with_the_measured_allocator_settings(triton_server: RunningServer) -> None:
    """Triton's model processes get glibc's allocator settings (unless the caller's
    environment has its own): they are what keeps their memory low under 12 MP uploads."""
    tritons = [p for p in _children(triton_server.process.pid) if "tritonserver" in _cmdline(p)]
    stubs = [p for p in _children(tritons[0]) if "triton_python_backend_stub" in _cmdline(p)]
    assert stubs
    for name, value in ALLOCATOR_ENV.items():
        assert {_environ(p).get(name) for p in stubs} == {os.environ.get(name, value)}


def test_the_callers_allocator_settings_win() -> None:
    mine = {"MALLOC_ARENA_MAX": "8", "PATH": "/bin"}
    environment = distribution.locate().environment(mine)
    assert environment["MALLOC_ARENA_MAX"] == "8"
    assert environment["MALLOC_MMAP_THRESHOLD_"] == ALLOCATOR_ENV["MALLOC_MMAP_THRESHOLD_"]


@pytest.mark.parametrize(
    ("stop_signal", "exit_code"),
    [(signal.SIGTERM, 0), (signal.SIGINT, 130)],
    ids=["sigterm-exits-0", "ctrl-c-exits-130"],
)
def test_a_stop_signal_stops_triton_and_its_stubs(stop_signal: int, exit_code: int) -> None:
    server = start(["--models", MODEL], timeout=120.0)
    try:
        tritons = [p for p in _children(server.process.pid) if "tritonserver" in _cmdline(p)]
        assert len(tritons) == 1
        pgid = os.getpgid(tritons[0])
        assert pgid == tritons[0]  # Triton leads its own process group
        stubs = [p for p in group_members(pgid) if "triton_python_backend_stub" in _cmdline(p)]
        assert stubs, "the model should run in a python backend stub"
        server.process.send_signal(stop_signal)
        assert server.process.wait(timeout=60) == exit_code
    finally:
        server.stop()
    assert group_members(pgid) == []
    assert not [p for p in stubs if _cmdline(p)]


def test_triton_killed_leaves_no_shared_memory_behind() -> None:
    """Killed Triton and stubs cannot remove their /dev/shm regions: the server does."""
    server = start(["--models", MODEL], timeout=120.0)
    try:
        regions = f"{shm.region_prefix(server.process.pid)}*"
        assert list(shm.SHM_DIR.glob(regions)), "the stubs should have made their regions"
        tritons = [p for p in _children(server.process.pid) if "tritonserver" in _cmdline(p)]
        os.killpg(os.getpgid(tritons[0]), signal.SIGKILL)  # Triton and its stubs, at once
        assert server.process.wait(timeout=60) == 1  # Triton gone: the server says so
    finally:
        server.stop()
    assert list(shm.SHM_DIR.glob(regions)) == []


def test_port_in_use_is_one_line_and_exit_1() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        http, metrics = free_ports(2)
        done = run_cli(
            "server", "--models", MODEL,
            "--grpc-port", str(port), "--http-port", str(http), "--metrics-port", str(metrics),
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "in use" in lines[0] and str(port) in lines[0]


def _repo_with_unstaged_config(tmp_path: Path) -> Path:
    (tmp_path / MODEL).mkdir()
    shutil.copy(REPOSITORY / MODEL / "config.pbtxt", tmp_path / MODEL / "config.pbtxt")
    return tmp_path


@pytest.mark.parametrize(
    ("make_repo", "extra"),
    [
        (lambda tmp: tmp, []),
        (_repo_with_unstaged_config, []),
        (_repo_with_unstaged_config, ["--models", MODEL]),
    ],
    ids=["empty-repo", "config-without-files", "requested-but-unstaged"],
)
def test_missing_models_name_convert(
    tmp_path: Path, make_repo: Callable[[Path], Path], extra: list[str]
) -> None:
    done = run_cli("server", "--model-repository", str(make_repo(tmp_path)), *port_args(), *extra)
    assert done.returncode == 1
    assert done.stdout == ""
    last = done.stderr.strip().splitlines()[-1]
    assert "python -m convert" in last
    assert "Traceback" not in done.stderr


def test_an_unknown_model_name_is_a_usage_error() -> None:
    done = run_cli("server", "--models", "u2netq", *port_args(), timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: --models: expected model names from") and "'u2netq'" in last


def test_tensorrt_models_are_skipped_with_a_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="server.models")
    entries = models.scan(REPOSITORY)
    chosen = models.select(entries, backend_dir.available_backends(), None)
    trt = [e.name for e in entries if e.backend == "tensorrt"]
    assert trt and not set(trt) & set(chosen)
    assert MODEL in chosen
    for name in trt:
        assert any(name in r.message and "TensorRT" in r.message for r in caplog.records)
