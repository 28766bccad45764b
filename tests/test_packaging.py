"""pyproject.toml's extras: the pins the GPU path depends on, read from the file itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement

from u2net.deployment import NGC_TENSORRT_VERSION, ORT_GPU_REQUIREMENT, TENSORRT_REQUIREMENTS

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
TENSORRT_PARTS = ("tensorrt", "tensorrt-cu12", "tensorrt-cu12-bindings", "tensorrt-cu12-libs")
ORT_FLAVOURS = {"onnxruntime", "onnxruntime-gpu"}


def _extras() -> dict[str, dict[str, Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {
        extra: {Requirement(r).name: Requirement(r) for r in requirements}
        for extra, requirements in project["optional-dependencies"].items()
    }


EXTRAS = _extras()


@pytest.mark.parametrize("part", TENSORRT_PARTS)
def test_gpu_pins_the_tensorrt_of_the_default_ngc_release(part: str) -> None:
    """A plan loads only on the TensorRT that built it: the one in tritonserver:<release>."""
    version = NGC_TENSORRT_VERSION
    spec = EXTRAS["gpu"][part].specifier
    major, minor, patch = (int(n) for n in version.split("."))
    assert spec.contains(version)
    assert spec.contains(f"{version}.post1")
    for other in (f"{major}.{minor}.{patch + 1}", f"{major}.{minor + 1}.0", f"{major + 1}.0.0"):
        assert not spec.contains(other), f"{part} {spec} admits {other}"


@pytest.mark.parametrize(
    "requirement", [ORT_GPU_REQUIREMENT, *TENSORRT_REQUIREMENTS], ids=lambda r: r.split("=")[0]
)
def test_the_doctors_install_commands_pin_what_the_gpu_extra_pins(requirement: str) -> None:
    """``python -m doctor``'s fixes install what ``[gpu]`` would, never a newer CUDA."""
    doctor = Requirement(requirement)
    assert doctor.specifier == EXTRAS["gpu"][doctor.name].specifier


@pytest.mark.parametrize(
    ("version", "admitted"),
    [("12.6.0", True), ("12.9.10", True), ("12.5.0", False), ("13.0.0", False)],
)
def test_gpu_brings_cuda_python_12(version: str, admitted: bool) -> None:
    """cuda-python 13.x needs a CUDA 13 driver; the 24.10 stack is CUDA 12.6."""
    assert EXTRAS["gpu"]["cuda-python"].specifier.contains(version) is admitted


@pytest.mark.parametrize(
    ("version", "admitted"),
    [("1.19.0", True), ("1.26.0", True), ("1.18.1", False), ("1.27.0", False)],
)
def test_gpu_onnxruntime_is_a_cuda_12_build(version: str, admitted: bool) -> None:
    assert EXTRAS["gpu"]["onnxruntime-gpu"].specifier.contains(version) is admitted


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_no_extra_brings_both_onnxruntime_flavours(extra: str) -> None:
    """With both installed, onnxruntime-gpu's CUDAExecutionProvider goes missing."""
    assert len(ORT_FLAVOURS & EXTRAS[extra].keys()) <= 1


@pytest.mark.parametrize(("extra", "flavour"), [("cpu", "onnxruntime"), ("gpu", "onnxruntime-gpu")])
def test_each_host_extra_has_its_onnxruntime_and_the_embedded_server(
    extra: str, flavour: str
) -> None:
    assert ORT_FLAVOURS & EXTRAS[extra].keys() == {flavour}
    assert "nvidia-pytriton" in EXTRAS[extra]


def test_container_extra_leaves_tensorrt_to_the_image() -> None:
    ngc = EXTRAS["ngc"]
    assert not {name for name in ngc if name.startswith("tensorrt") or name == "cuda-python"}
    assert "onnxruntime" in ngc  # the verification reference
    assert "onnxconverter-common" in ngc  # TensorRT 11's fp16 (convert/trt/fp16.py)


@pytest.mark.parametrize("extra", ["test", "matting"])
def test_add_on_extras_leave_the_onnxruntime_flavour_to_the_host_extra(extra: str) -> None:
    """`.[gpu,test]` must not bring the CPU build back in."""
    assert not ORT_FLAVOURS & EXTRAS[extra].keys()
