"""The doctor's checks as pure functions of facts, the verdict and the rendering."""

from __future__ import annotations

import json

import pytest

from doctor import host, packages, report, running
from doctor.check import Check, Status, fail, na, ok
from doctor.diagnose import choose_deployment, gpu_verdict
from doctor.host import CudaNeed, Gpu, GpuQuery
from doctor.packages import Dist, OrtFacts
from doctor.running import ModelRuntime, ServerFacts
from tests.doctor.data import structure_errors

RTX = GpuQuery(True, (Gpu("NVIDIA GeForce RTX 4090", 24564, "8.9", "560.35.03"),))
NO_SMI = GpuQuery(False, (), "nvidia-smi is not on PATH")
CPU_ORT = {"onnxruntime": Dist("onnxruntime", "1.32.0", "/venv/site-packages")}
GPU_ORT = {"onnxruntime-gpu": Dist("onnxruntime-gpu", "1.20.1", "/venv/site-packages")}
BOTH_ORT = {**CPU_ORT, **GPU_ORT}
GPU_INSTALL = "pip install 'onnxruntime-gpu[cuda,cudnn]>=1.19,<1.27'"  # [gpu]'s CUDA 12 range


# --- the Check value -----------------------------------------------------------------------


def test_a_failure_needs_a_fix_and_only_failures_block() -> None:
    with pytest.raises(ValueError, match="needs a fix"):
        Check("x", Status.FAIL, "broken")
    with pytest.raises(ValueError, match="only a failure can block"):
        Check("x", Status.OK, "fine", blocking=True)


# --- host ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "deployment", "status", "blocking", "fragment"),
    [
        (NO_SMI, "cpu", Status.NA, False, "no NVIDIA GPU: nvidia-smi is not on PATH"),
        (NO_SMI, "gpu", Status.FAIL, True, "no usable NVIDIA GPU"),
        (GpuQuery(True, (), "No devices were found"), "gpu", Status.FAIL, True, "No devices"),
        (RTX, "gpu", Status.OK, False, "RTX 4090 (24564 MiB, compute 8.9 = sm_89)"),
    ],
)
def test_gpu_check(
    query: GpuQuery, deployment: str, status: Status, blocking: bool, fragment: str
) -> None:
    check = host.gpu_check(query, deployment)  # type: ignore[arg-type]
    assert (check.status, check.blocking) == (status, blocking)
    assert fragment in check.detail


def _driver(version: str) -> GpuQuery:
    return GpuQuery(True, (Gpu("GPU", 1, "8.9", version),))


@pytest.mark.parametrize(
    ("driver", "needs", "status", "fragments"),
    [
        ("560.35.03", [CudaNeed("onnxruntime-gpu 1.20.1", 12)], Status.OK, ["CUDA ≤ 12.x"]),
        (
            "560.35.03",
            [CudaNeed("tensorrt-cu13 10.13", 13)],
            Status.FAIL,
            ["needs CUDA 13 (driver ≥ 580)"],
        ),
        ("555.42.02", [], Status.FAIL, ["needs driver ≥ 560"]),
        (
            "515.65.01",
            [CudaNeed("onnxruntime-gpu 1.20.1", 12)],
            Status.FAIL,
            ["CUDA ≤ 11.x", "needs CUDA 12"],
        ),
    ],
)
def test_driver_check(
    driver: str, needs: list[CudaNeed], status: Status, fragments: list[str]
) -> None:
    check = host.driver_check(_driver(driver), needs, "gpu")
    assert check.status is status
    assert check.blocking is (status is Status.FAIL)
    for fragment in fragments:
        assert fragment in check.detail


def test_driver_check_without_a_driver_is_not_applicable() -> None:
    check = host.driver_check(NO_SMI, [CudaNeed("cuda-python 13.4.4", 13)], "cpu")
    assert check.status is Status.NA
    assert "cuda-python 13.4.4 (CUDA 13)" in check.detail


# --- packages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dists", "deployment", "status", "blocking", "fix"),
    [
        (CPU_ORT, "cpu", Status.OK, False, None),
        (GPU_ORT, "gpu", Status.OK, False, None),
        (GPU_ORT, "cpu", Status.OK, False, None),
        (
            BOTH_ORT,
            "cpu",
            Status.FAIL,
            True,
            "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime",
        ),
        (
            BOTH_ORT,
            "gpu",
            Status.FAIL,
            True,
            f"pip uninstall -y onnxruntime onnxruntime-gpu && {GPU_INSTALL}",
        ),
        (
            CPU_ORT,
            "gpu",
            Status.FAIL,
            False,
            f"pip uninstall -y onnxruntime && {GPU_INSTALL}",
        ),
        ({}, "cpu", Status.FAIL, True, "pip install onnxruntime"),
    ],
    ids=["cpu", "gpu", "gpu-build-on-cpu", "both-cpu", "both-gpu", "cpu-build-on-gpu", "none"],
)
def test_onnxruntime_check(
    dists: dict, deployment: str, status: Status, blocking: bool, fix: str | None
) -> None:
    check = packages.onnxruntime_check(dists, deployment)  # type: ignore[arg-type]
    assert (check.status, check.blocking, check.fix) == (status, blocking, fix)


def test_both_builds_are_named_with_their_versions() -> None:
    detail = packages.onnxruntime_check(BOTH_ORT, "cpu").detail
    assert "onnxruntime 1.32.0" in detail and "onnxruntime-gpu 1.20.1" in detail
    assert "share one `onnxruntime` package" in detail


CUDA_ORT = OrtFacts("1.20.1", ("CUDAExecutionProvider", "CPUExecutionProvider"), cuda_build="12.4")


@pytest.mark.parametrize(
    ("ort", "dists", "deployment", "status", "blocking"),
    [
        (OrtFacts("1.32.0", ("CPUExecutionProvider",)), CPU_ORT, "cpu", Status.OK, False),
        (OrtFacts("1.32.0", ("CPUExecutionProvider",)), CPU_ORT, "gpu", Status.FAIL, False),
        (OrtFacts("1.20.1", ("CPUExecutionProvider",)), GPU_ORT, "gpu", Status.FAIL, True),
        (CUDA_ORT, GPU_ORT, "gpu", Status.OK, False),
        (OrtFacts(import_error="ImportError: libcublas"), GPU_ORT, "cpu", Status.FAIL, True),
    ],
)
def test_providers_check(
    ort: OrtFacts, dists: dict, deployment: str, status: Status, blocking: bool
) -> None:
    check = packages.providers_check(ort, dists, deployment)  # type: ignore[arg-type]
    assert (check.status, check.blocking) == (status, blocking)


@pytest.mark.parametrize(
    ("session", "error", "status", "blocking"),
    [
        ("CUDAExecutionProvider", None, Status.OK, False),
        ("CPUExecutionProvider", None, Status.FAIL, True),
        (None, "RuntimeError: libcudnn.so.9: cannot open shared object file", Status.FAIL, True),
    ],
    ids=["runs-on-cuda", "fell-back-to-cpu", "raised"],
)
def test_cuda_session_check(
    session: str | None, error: str | None, status: Status, blocking: bool
) -> None:
    ort = OrtFacts("1.20.1", CUDA_ORT.providers, cuda_session=session, cuda_error=error)
    check = packages.cuda_session_check(ort, GPU_ORT, "gpu")
    assert (check.status, check.blocking) == (status, blocking)
    if error:
        assert "libcudnn.so.9" in check.detail


def test_cuda_session_is_not_tried_without_the_provider() -> None:
    ort = OrtFacts("1.32.0", ("CPUExecutionProvider",))
    assert packages.cuda_session_check(ort, CPU_ORT, "cpu").status is Status.NA


def test_cuda_needs_reads_builds_and_tensorrt_wheels() -> None:
    dists = {
        **GPU_ORT,
        "tensorrt-cu12": Dist("tensorrt-cu12", "10.5.0", "/x"),
        "tensorrt-cu12-libs": Dist("tensorrt-cu12-libs", "10.5.0", "/x"),
        "cuda-python": Dist("cuda-python", "13.4.4", "/x"),
    }
    assert packages.cuda_needs(dists, CUDA_ORT) == [
        CudaNeed("onnxruntime-gpu 1.20.1", 12),
        CudaNeed("tensorrt-cu12 10.5.0", 12),
    ]
    old = {"onnxruntime-gpu": Dist("onnxruntime-gpu", "1.18.1", "/x")}
    assert packages.cuda_needs(old, OrtFacts()) == [CudaNeed("onnxruntime-gpu 1.18.1", 11)]


@pytest.mark.parametrize(
    ("version", "error", "status"),
    [
        ("10.5.0", None, Status.OK),
        ("10.8.0.43", None, Status.FAIL),
        (None, None, Status.NA),
        (None, "OSError: libnvinfer.so.10", Status.FAIL),
    ],
)
def test_tensorrt_check(version: str | None, error: str | None, status: Status) -> None:
    check = packages.tensorrt_check(version, error, "gpu")
    assert check.status is status
    assert not check.blocking


@pytest.mark.parametrize(
    ("version", "driver_major", "status", "fix"),
    [
        ("13.4.4", None, Status.NA, None),
        ("13.4.4", 12, Status.FAIL, "pip install 'cuda-python>=12,<13'"),
        ("12.6.2", 12, Status.OK, None),
        ("12.6.2", 13, Status.OK, None),
    ],
)
def test_cuda_python_check(
    version: str, driver_major: int | None, status: Status, fix: str | None
) -> None:
    dists = {"cuda-python": Dist("cuda-python", version, "/x")}
    check = packages.cuda_python_check(dists, driver_major, "gpu")
    assert (check.status, check.fix) == (status, fix)


# --- the running server --------------------------------------------------------------------


def _model(
    kind: str, providers: tuple[str, ...] | None, ms: float, python_based: bool = True
) -> ModelRuntime:
    return ModelRuntime("u2netp_onnx", ((kind, 1),), "onnxruntime", python_based, providers, ms, 3)


SERVER = ServerFacts("127.0.0.1:8001", None, "2.51.0", True, (), "127.0.0.1:8002")


@pytest.mark.parametrize(
    ("model", "deployment", "status", "on_gpu", "fragment"),
    [
        (
            _model("KIND_CPU", ("CPUExecutionProvider",), 281.0),
            "cpu",
            Status.OK,
            False,
            "1× KIND_CPU on CPUExecutionProvider; 281 ms/img",
        ),
        (
            _model("KIND_CPU", ("CPUExecutionProvider",), 281.0),
            "gpu",
            Status.FAIL,
            False,
            "not KIND_GPU",
        ),
        (
            _model("KIND_GPU", ("CPUExecutionProvider",), 281.0),
            "gpu",
            Status.FAIL,
            False,
            "runs on CPUExecutionProvider",
        ),
        (
            _model("KIND_GPU", ("CUDAExecutionProvider",), 250.0),
            "gpu",
            Status.FAIL,
            False,
            "as slow as this project's CPU",
        ),
        (_model("KIND_GPU", ("CUDAExecutionProvider",), 9.0), "gpu", Status.OK, True, "9 ms/img"),
        (
            _model("KIND_GPU", None, 4.0, python_based=False),
            "gpu",
            Status.OK,
            True,
            "NVIDIA's backend",
        ),
    ],
    ids=[
        "cpu",
        "cpu-on-gpu-host",
        "gpu-kind-cpu-provider",
        "gpu-at-cpu-speed",
        "gpu",
        "native-backend",
    ],
)
def test_model_check(
    model: ModelRuntime, deployment: str, status: Status, on_gpu: bool, fragment: str
) -> None:
    check = running.model_check(model, SERVER, deployment)  # type: ignore[arg-type]
    assert check.status is status
    assert check.blocking is (status is Status.FAIL)
    assert check.data["on_gpu"] is on_gpu
    assert fragment in check.detail


def test_model_check_compares_with_the_reference() -> None:
    check = running.model_check(_model("KIND_CPU", ("CPUExecutionProvider",), 555.4), SERVER, "cpu")
    assert "= 2.00× this project's 278 ms/img" in check.detail
    assert check.data["reference_ms"] == 277.7


def test_a_failed_probe_blocks() -> None:
    model = ModelRuntime(
        "u2netp_onnx", (("KIND_CPU", 1),), "onnxruntime", True, (), probe_error="INTERNAL: boom"
    )
    check = running.model_check(model, SERVER, "cpu")
    assert check.blocking and "INTERNAL: boom" in check.detail


def test_a_model_that_is_not_timed_does_not_block() -> None:
    model = ModelRuntime(
        "cutout", (("KIND_CPU", 1),), "python", True, (), not_timed="not the U²-Net contract"
    )
    check = running.model_check(model, SERVER, "cpu")
    assert check.status is Status.OK
    assert "not timed: not the U²-Net contract" in check.detail


@pytest.mark.parametrize("url_given", [True, False])
def test_server_down_says_where_and_how_to_start_one(url_given: bool) -> None:
    check = running.server_check(
        ServerFacts("127.0.0.1:9", "UNAVAILABLE: connection refused"), url_given
    )
    assert check.status is Status.FAIL
    assert check.blocking is url_given
    assert "127.0.0.1:9" in check.detail and "python -m server" in (check.fix or "")


# --- deployment, verdict, rendering --------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "query", "expected"),
    [
        ("auto", NO_SMI, "cpu"),
        ("auto", RTX, "gpu"),
        ("auto", GpuQuery(True, (), "driver"), "gpu"),
        ("gpu", NO_SMI, "gpu"),
        ("cpu", RTX, "cpu"),
    ],
)
def test_choose_deployment(requested: str, query: GpuQuery, expected: str) -> None:
    assert choose_deployment(requested, query)[0] == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("checks", "deployment", "status", "fragment"),
    [
        ([ok("server.u2net_trt", "fast", on_gpu=True)], "gpu", Status.OK, "in use: u2net_trt"),
        (
            [na("host.gpu", "no NVIDIA GPU"), ok("server.u2netp_onnx", "cpu", on_gpu=False)],
            "cpu",
            Status.NA,
            "every ready model runs on the CPU (host.gpu: no NVIDIA GPU)",
        ),
        (
            [fail("host.cuda_driver", "old driver", "upgrade", blocking=True)],
            "gpu",
            Status.FAIL,
            "no server answered (host.cuda_driver: old driver)",
        ),
    ],
)
def test_gpu_verdict(checks: list[Check], deployment: str, status: Status, fragment: str) -> None:
    verdict = gpu_verdict(checks, deployment)  # type: ignore[arg-type]
    assert verdict.status is status
    assert fragment in verdict.detail
    assert not verdict.blocking


CHECKS = [
    ok("deployment", "cpu"),
    na("host.gpu", "no NVIDIA GPU"),
    fail("packages.tensorrt", "TensorRT 10.8", "pip install tensorrt==10.5.0", blocking=False),
    fail("server", "down at x:1", "python -m server", blocking=True),
]


def test_render_text_marks_each_line_and_puts_fixes_on_failures_only() -> None:
    lines = report.render_text(CHECKS, "cpu").splitlines()
    assert lines[:4] == [
        "✓ deployment: cpu",
        "– host.gpu: no NVIDIA GPU",
        "✗ packages.tensorrt: TensorRT 10.8 → fix: pip install tensorrt==10.5.0",
        "✗ server: down at x:1 → fix: python -m server",
    ]
    assert lines[4] == "✗ 1 problem(s) block the cpu deployment: server"
    assert (
        report.render_text(CHECKS[:3], "cpu").splitlines()[-1]
        == "✓ nothing blocks the cpu deployment"
    )


@pytest.mark.parametrize(("checks", "code"), [(CHECKS, 1), (CHECKS[:3], 0)])
def test_exit_code_counts_blocking_failures_only(checks: list[Check], code: int) -> None:
    assert report.exit_code(checks) == code


def test_render_json_follows_the_schema() -> None:
    parsed = json.loads(report.render_json(CHECKS))
    assert structure_errors(parsed) == []
    assert parsed[3] == {
        "name": "server",
        "status": "fail",
        "detail": "down at x:1",
        "fix": "python -m server",
        "blocking": True,
        "data": {},
    }


@pytest.mark.parametrize(
    "broken",
    [
        {},
        [],
        [{"name": "x", "status": "warn", "detail": "", "fix": None, "blocking": False, "data": {}}],
        [{"name": "x", "status": "fail", "detail": "", "fix": None, "blocking": True, "data": {}}],
        [{"name": "x", "status": "ok", "detail": "", "fix": None, "blocking": True, "data": {}}],
        [{"name": "x", "status": "ok", "detail": "", "fix": None, "blocking": False}],
        [{"name": "x", "status": "ok", "detail": "", "fix": None, "blocking": False, "data": {}}]
        * 2,
    ],
    ids=[
        "not-a-list",
        "empty",
        "unknown-status",
        "fail-without-fix",
        "ok-blocking",
        "no-data",
        "repeated",
    ],
)
def test_the_schema_check_rejects_malformed_reports(broken: object) -> None:
    assert structure_errors(broken) != []
