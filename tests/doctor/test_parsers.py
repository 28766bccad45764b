"""The doctor's pure parsers on real formats: nvidia-smi's CSV, plan manifests, Triton's
metrics text, a gateway's /readyz body; and the facts kept in one place."""

from __future__ import annotations

import ast
import re
import subprocess

import pytest
import yaml

from doctor import host, running
from doctor.gateway import triton_target
from doctor.host import Gpu, GpuQuery, driver_cuda_major, ngc_driver_ok, parse_gpu_csv
from doctor.reference import CPU_MS_PER_IMAGE, cpu_reference_ms
from doctor.repository import plan_problems
from tests.doctor import data
from u2net import deployment
from u2net.repository.manifests import PlanFacts

# --- nvidia-smi -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fields", "expected"),
    [
        (
            data.SMI_RTX4090,
            host.GPU_FIELDS,
            [Gpu("NVIDIA GeForce RTX 4090", 24564, "8.9", "550.54.15")],
        ),
        (
            data.SMI_TWO_A100,
            host.GPU_FIELDS,
            [Gpu("NVIDIA A100-SXM4-80GB", 81920, "8.0", "535.104.05")] * 2,
        ),
        (
            data.SMI_H100_NA_MEMORY,
            host.GPU_FIELDS,
            [Gpu("NVIDIA H100 80GB HBM3", None, "9.0", "560.35.03")],
        ),
        (data.SMI_T4_HEADER_UNITS, host.GPU_FIELDS, [Gpu("Tesla T4", 15360, "7.5", "470.57.02")]),
        (
            data.SMI_V100_NO_CC,
            ("name", "memory.total", "driver_version"),
            [Gpu("Tesla V100-SXM2-16GB", 16160, None, "470.57.02")],
        ),
        ("", host.GPU_FIELDS, []),
    ],
    ids=["rtx4090", "two-a100", "memory-n/a", "header-and-units", "no-compute-cap", "empty"],
)
def test_parse_gpu_csv(text: str, fields: tuple[str, ...], expected: list[Gpu]) -> None:
    assert parse_gpu_csv(text, fields) == expected


def test_parse_gpu_csv_refuses_a_row_without_a_name() -> None:
    with pytest.raises(ValueError, match="expected a GPU name"):
        parse_gpu_csv("[N/A], 1024, 8.0, 550.54.15\n")


def test_gpu_sm_name() -> None:
    assert Gpu("x", 1, "8.9", "1").sm == "sm_89"
    assert Gpu("x", 1, None, "1").sm == "?"


def _runner(outputs: list[tuple[int, str]], calls: list[list[str]]):
    def run(command: list[str]) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        code, out = outputs.pop(0)
        return subprocess.CompletedProcess(command, code, out, "")

    return run


@pytest.mark.parametrize(
    ("outputs", "expected", "queries"),
    [
        (
            [(0, data.SMI_RTX4090)],
            GpuQuery(True, (Gpu("NVIDIA GeForce RTX 4090", 24564, "8.9", "550.54.15"),)),
            1,
        ),
        (
            [(2, data.SMI_NO_CC_FIELD), (0, data.SMI_V100_NO_CC)],
            GpuQuery(True, (Gpu("Tesla V100-SXM2-16GB", 16160, None, "470.57.02"),)),
            2,
        ),
        ([(9, data.SMI_NO_DRIVER)], GpuQuery(True, (), data.SMI_NO_DRIVER.strip()), 1),
        ([(6, "No devices were found\n")], GpuQuery(True, (), "No devices were found"), 1),
    ],
    ids=["ok", "old-driver-retries-without-compute_cap", "driver-not-loaded", "no-devices"],
)
def test_query_gpus(outputs: list, expected: GpuQuery, queries: int) -> None:
    calls: list[list[str]] = []
    result = host.query_gpus(
        run=_runner(list(outputs), calls), which=lambda _: "/usr/bin/nvidia-smi"
    )
    assert result == expected
    assert len(calls) == queries
    assert calls[0][1:] == [
        "--query-gpu=name,memory.total,compute_cap,driver_version",
        "--format=csv,noheader,nounits",
    ]


def test_query_gpus_without_nvidia_smi() -> None:
    result = host.query_gpus(run=_runner([], []), which=lambda _: None)
    assert result == GpuQuery(False, (), "nvidia-smi is not on PATH")


@pytest.mark.parametrize(
    ("driver", "major"),
    [
        ("580.65.06", 13),
        ("560.35.03", 12),
        ("525.60.13", 12),
        ("520.61.05", 11),
        ("418.40", None),
        ("?", None),
    ],
)
def test_driver_cuda_major(driver: str, major: int | None) -> None:
    assert driver_cuda_major(driver) == major


@pytest.mark.parametrize(
    ("driver", "runs_ngc"),
    [
        ("560.28.03", True),
        ("580.65.06", True),
        ("555.42.02", False),
        ("535.86.10", True),  # data-center forward compatibility, R535 ≥ 535.86
        ("535.54.03", False),
        ("470.57.02", True),
        ("550.54.15", False),
    ],
)
def test_ngc_driver_ok(driver: str, runs_ngc: bool) -> None:
    assert ngc_driver_ok(driver) is runs_ngc


# --- plan manifests (their parser: tests/u2net/repository/test_manifests.py) ---------------


def _facts(version: str, capability: str) -> PlanFacts:
    return PlanFacts(version, capability, "GPU", 16, "fp16", True, False)


@pytest.mark.parametrize(
    ("version", "capability", "host_capabilities", "expected"),
    [
        ("10.5.0", "8.9", ["8.9"], []),
        ("10.5.0.18", "8.9", ["8.9"], []),
        ("10.3.0", "8.9", ["8.9"], ["tritonserver:24.10-py3 runs TensorRT 10.5.0"]),
        ("10.5.0", "9.0", ["8.9"], ["this host has sm_89"]),
        ("10.5.0", "9.0", [], []),  # no GPU here: nothing to compare the capability with
        ("10.3.0", "9.0", ["8.9", "8.6"], ["runs TensorRT 10.5.0", "this host has sm_86, sm_89"]),
    ],
)
def test_plan_problems(
    version: str, capability: str, host_capabilities: list[str], expected: list[str]
) -> None:
    problems = plan_problems(_facts(version, capability), host_capabilities)
    assert len(problems) == len(expected)
    for problem, fragment in zip(problems, expected, strict=True):
        assert fragment in problem


# --- metrics, gateway, URLs ----------------------------------------------------------------


def test_parse_provider_metrics() -> None:
    assert running.parse_provider_metrics(data.METRICS_TEXT) == {
        "u2netp_onnx": {"CPUExecutionProvider"},
        "u2net_onnx": {"CUDAExecutionProvider"},  # the CPU sample's value is 0
    }
    assert running.parse_provider_metrics('nv_inference_count{model="x"} 3\n') == {}


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ('{"status": "ready", "triton": "triton:8001"}', "triton:8001"),
        ('{"triton": {"url": "10.0.0.5:8001", "ready": true}}', "10.0.0.5:8001"),
        ('{"target": "localhost:8001"}', "localhost:8001"),
        ('{"status": "ready"}', None),
        ("ready", None),
        ("[]", None),
    ],
)
def test_triton_target(body: str, target: str | None) -> None:
    assert triton_target(body) == target


@pytest.mark.parametrize(
    ("grpc", "metrics"),
    [
        ("localhost:8001", "localhost:8002"),
        ("10.1.2.3:9001", "10.1.2.3:8002"),
        ("triton", "triton:8002"),
    ],
)
def test_default_metrics_url(grpc: str, metrics: str) -> None:
    assert running.default_metrics_url(grpc) == metrics


# --- facts kept in one place ---------------------------------------------------------------


def test_the_backend_reports_the_metric_the_doctor_reads() -> None:
    source = (data.ROOT / "server/backends/onnxruntime/model.py").read_text()
    assigned = {
        node.targets[0].id: node.value.value
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.targets[0], ast.Name)
    }
    assert assigned["PROVIDER_METRIC"] == running.PROVIDER_METRIC


def test_compose_pins_the_release_the_core_names() -> None:
    compose = yaml.safe_load((data.ROOT / "docker-compose.yml").read_text())
    services = compose["services"]

    def unset(value: str) -> str:  # compose's ${VAR:-default}, as with VAR unset
        return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)

    assert unset(services["convert"]["image"]) == deployment.TENSORRT_IMAGE
    # triton is NVIDIA's image plus what cutout imports, built FROM the pinned release
    assert unset(services["triton"]["build"]["args"]["NGC_RELEASE"]) == deployment.NGC_RELEASE


def test_the_measurements_show_the_reference_numbers() -> None:
    """The CPU reference is each model's served latency measured with config.pbtxt."""
    measurements = (data.ROOT / "docs" / "measurements.md").read_text()
    row = r"^\| (u2netp?) \| `config\.pbtxt`[^|]*\| [\d.]+ \| ([\d.]+) \|"
    rows = re.findall(row, measurements, re.M)
    assert {model: float(ms) for model, ms in rows} == CPU_MS_PER_IMAGE
    assert (
        cpu_reference_ms("u2net_trt") == cpu_reference_ms("u2net_onnx") == CPU_MS_PER_IMAGE["u2net"]
    )
