"""``python -m doctor`` end to end on this CPU machine: a real embedded Triton, a real
throwaway virtualenv (the doctor a real process of its python there), ``python -m server
doctor`` a real process; GPUs only through a recorded nvidia-smi. Elsewhere the doctor runs as
``main(argv)`` in this process (tests/doctor/data.py), as its own process would."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from server.embedded import RunningServer
from server.launch import free_ports
from tests.cli_run import run_cli, run_process
from tests.doctor import data

MODEL = "u2netp_onnx"


def _report(done: Any) -> list[dict[str, Any]]:
    report = json.loads(done.stdout)
    assert data.structure_errors(report) == [], done.stdout
    return report


def _dead_url() -> str:
    (port,) = free_ports(1)
    return f"127.0.0.1:{port}"


def _server_args(server: RunningServer) -> list[str]:
    return ["--url", server.grpc_url, "--metrics-url", server.metrics_url, "--probe-runs", "2"]


@pytest.fixture(scope="module")
def no_gpu_text(triton_server: RunningServer) -> Any:
    return data.run_doctor(
        *_server_args(triton_server), env={"PATH": data.path_without_nvidia_smi()}
    )


def test_no_gpu_host_with_the_embedded_server_passes_for_cpu(no_gpu_text: Any) -> None:
    done = no_gpu_text
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("✓ deployment: cpu — auto: nvidia-smi is not on PATH")
    assert "– host.gpu: no NVIDIA GPU: nvidia-smi is not on PATH" in done.stdout
    assert lines[-1] == "✓ nothing blocks the cpu deployment"
    assert all(line[:2] in ("✓ ", "✗ ", "– ") for line in lines)


def test_the_report_lists_ready_models_on_kind_cpu_with_ms_per_image(
    triton_server: RunningServer,
) -> None:
    done = data.run_doctor(
        *_server_args(triton_server), "--json", env={"PATH": data.path_without_nvidia_smi()}
    )
    assert done.returncode == 0, done.stderr
    checks = data.by_name(_report(done))
    assert checks["server.models"]["data"]["ready"] == [MODEL]
    model = checks[f"server.{MODEL}"]
    assert model["status"] == "ok"
    assert model["data"]["instances"] == [["KIND_CPU", 1]]
    assert model["data"]["providers"] == ["CPUExecutionProvider"]  # the backend's own gauge
    assert 10 < model["data"]["ms_per_image"] < 60_000
    assert "1× KIND_CPU on CPUExecutionProvider" in model["detail"]
    assert "ms/img" in model["detail"] and "this project's 278 ms/img" in model["detail"]
    assert checks["gpu"]["status"] == "na" and checks["gpu"]["data"]["in_use"] is False


def test_asking_for_the_gpu_deployment_on_this_host_fails(triton_server: RunningServer) -> None:
    done = data.run_doctor(
        *_server_args(triton_server),
        "--deployment",
        "gpu",
        "--json",
        env={"PATH": data.path_without_nvidia_smi()},
    )
    assert done.returncode == 1
    blocking = {c["name"] for c in _report(done) if c["blocking"]}
    assert {"host.gpu", f"server.{MODEL}"} <= blocking


def test_server_down_names_the_url_and_how_to_start_one() -> None:
    url = _dead_url()
    done = data.run_doctor("--url", url, env={"PATH": data.path_without_nvidia_smi()})
    assert done.returncode == 1
    line = next(li for li in done.stdout.splitlines() if li.startswith("✗ server:"))
    assert f"no Triton answering at {url}" in line
    assert "fix: start one: `python -m server`" in line
    assert done.stdout.splitlines()[-1] == "✗ 1 problem(s) block the cpu deployment: server"


@pytest.mark.parametrize(
    ("tensorrt", "capability", "fragments"),
    [
        ("10.3.0", "8.9", ["TensorRT 10.3.0", "runs TensorRT 10.5.0"]),
        ("10.5.0", "9.0", ["for sm_90", "this host has sm_89"]),
        ("10.5.0", "8.9", []),
    ],
    ids=["other-tensorrt", "other-compute-capability", "matching"],
)
def test_a_plan_built_elsewhere_is_reported_with_the_rebuild_command(
    tmp_path: Path, tensorrt: str, capability: str, fragments: list[str]
) -> None:
    repository = data.repository_with_plan(tmp_path / "repo", tensorrt, capability)
    smi = data.fake_nvidia_smi(tmp_path / "bin", data.SMI_RTX4090)
    done = data.run_doctor(
        "--json",
        "--model-repository",
        repository,
        "--url",
        _dead_url(),
        env={"PATH": data.path_without_nvidia_smi(smi)},
    )
    checks = data.by_name(_report(done))
    assert checks["host.gpu"]["data"]["gpus"][0]["compute_capability"] == "8.9"
    plan = checks["repository.u2netp_trt"]
    if not fragments:
        assert plan["status"] == "ok", plan
        return
    assert plan["status"] == "fail" and plan["blocking"], plan
    for fragment in fragments:
        assert fragment in plan["detail"]
    assert "rebuild with `python -m convert trt --force --models u2netp`" in plan["fix"]
    assert done.returncode == 1


def test_a_plan_for_another_tensorrt_is_reported_on_a_cpu_host(tmp_path: Path) -> None:
    repository = data.repository_with_plan(tmp_path / "repo", "10.3.0", "9.0")
    done = data.run_doctor(
        "--model-repository",
        repository,
        "--url",
        _dead_url(),
        env={"PATH": data.path_without_nvidia_smi()},
    )
    line = next(li for li in done.stdout.splitlines() if "repository.u2netp_trt" in li)
    assert line.startswith("✗ repository.u2netp_trt: built with TensorRT 10.3.0 for sm_90")
    assert "python -m convert trt --force --models u2netp" in line
    assert "repository.u2netp_trt" not in done.stdout.splitlines()[-1]  # not blocking on CPU


@pytest.mark.parametrize(
    ("fake", "status"),
    [({"onnxruntime-gpu": "1.20.1"}, "fail"), ({}, "ok")],
    ids=["onnxruntime-and-onnxruntime-gpu", "onnxruntime-only"],
)
def test_both_onnxruntime_builds_installed_is_an_error(
    tmp_path: Path, triton_server: RunningServer, fake: dict[str, str], status: str
) -> None:
    python = data.make_venv(tmp_path / "venv", fake)
    done = data.run_doctor(
        *_server_args(triton_server),
        "--json",
        python=python,
        env={"PATH": data.path_without_nvidia_smi()},
    )
    check = data.by_name(_report(done))["packages.onnxruntime"]
    assert check["status"] == status, check
    assert done.returncode == (1 if status == "fail" else 0), done.stdout
    if status == "fail":
        assert check["blocking"]
        assert "onnxruntime 1.32" in check["detail"] and "onnxruntime-gpu 1.20.1" in check["detail"]
        assert str(tmp_path / "venv") in check["detail"]  # where the second one sits
        assert check["fix"] == (
            "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime"
        )


class _Gateway(BaseHTTPRequestHandler):
    answer: tuple[int, str] = (200, "{}")

    def do_GET(self) -> None:
        code, body = self.answer if self.path == "/readyz" else (404, "not found")
        payload = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def gateway() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    # shutdown() waits for serve_forever's next poll: 0.5 s by default, 0.01 s here
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("code", "body", "status"),
    [
        (200, '{"status": "ready", "triton": "triton:8001"}', "ok"),
        (503, '{"triton": "triton:8001", "error": "triton unreachable"}', "fail"),
        (200, '{"status": "ready", "triton": {"url": "triton:8001", "breaker": "open"}}', "fail"),
    ],
    ids=["ready", "not-ready", "breaker-open"],
)
def test_the_gateway_readyz_and_its_triton_target(
    gateway: ThreadingHTTPServer, code: int, body: str, status: str
) -> None:
    _Gateway.answer = (code, body)
    web = f"127.0.0.1:{gateway.server_address[1]}"
    done = data.run_doctor(
        "--url",
        _dead_url(),
        "--web-url",
        web,
        "--json",
        env={"PATH": data.path_without_nvidia_smi()},
    )
    check = data.by_name(_report(done))["gateway"]
    assert check["status"] == status
    assert "forwards to Triton at triton:8001" in check["detail"]
    assert check["blocking"] is (status == "fail")


@pytest.mark.parametrize(
    ("run", "command"),
    [(run_cli, ["doctor"]), (run_process, ["server", "doctor"])],
    ids=["doctor", "server doctor"],
)
def test_usage_errors_exit_2(run: Callable, command: list[str]) -> None:
    """``python -m server doctor`` is an alias (a child ``python -m doctor``: a real process
    here, so its output is the child's): the doctor's options and exit codes."""
    done = run(*command, "--probe-runs", "0", env={"PATH": data.path_without_nvidia_smi()})
    assert done.returncode == 2
    assert "usage: python -m doctor" in done.stderr
    assert "expected a whole number ≥ 1, got '0'" in done.stderr
