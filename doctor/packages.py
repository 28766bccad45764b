"""Check 2, the Python packages: which ONNX Runtime build is installed (both ``onnxruntime``
and ``onnxruntime-gpu`` is an error), its providers, whether a CUDA session really starts,
TensorRT's version and cuda-python's CUDA major.

Installed distributions are read with :mod:`importlib.metadata` (what pip installed, not what
happens to import); ``onnxruntime`` and ``tensorrt`` are imported lazily, here only.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

from doctor.check import Check, Deployment, fail, na, ok
from doctor.host import CUDA_MIN_DRIVER_BRANCH, CudaNeed
from u2net.deployment import (
    NGC_TENSORRT_VERSION,
    ORT_GPU_REQUIREMENT,
    TENSORRT_IMAGE,
    TENSORRT_REQUIREMENTS,
    TRITON_IMAGE,
    pip_install,
)

logger = logging.getLogger(__name__)

ORT_BUILDS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino", "onnxruntime-directml")
CUDA_PYTHON = ("cuda-python", "cuda-bindings")
CUDA_EP = "CUDAExecutionProvider"
ORT_GPU_INSTALL = pip_install(ORT_GPU_REQUIREMENT)
_TRT_CUDA = re.compile(r"^tensorrt[-_]cu(\d+)")


@dataclass(frozen=True)
class Dist:
    name: str  # normalised: lower case, "-" for runs of "-", "_", "."
    version: str
    location: str


@dataclass(frozen=True)
class OrtFacts:
    """What importing ONNX Runtime showed. ``cuda_session`` is the provider a tiny CUDA
    session ended on (None: not tried)."""

    version: str | None = None
    providers: tuple[str, ...] = ()
    import_error: str | None = None
    cuda_build: str | None = None  # the CUDA version onnxruntime-gpu was built with
    cuda_session: str | None = None
    cuda_error: str | None = None


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed() -> dict[str, Dist]:
    """Every installed distribution on ``sys.path`` by normalised name, the first one found
    winning (as for imports)."""
    found: dict[str, Dist] = {}
    for dist in importlib.metadata.distributions():
        raw = dist.metadata["Name"]
        if not raw:
            continue
        name = normalise(raw)
        if name not in found:
            found[name] = Dist(name, dist.version, str(dist.locate_file("")))
    return found


def _major(version: str) -> int | None:
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def _tiny_model() -> bytes:
    """An Identity graph: enough to see whether a CUDA session starts."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "doctor", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by every ONNX Runtime the project supports
    return model.SerializeToString()


def _cuda_session(ort: object) -> tuple[str | None, str | None]:
    """(provider the session got, error) for a tiny session that asks for CUDA."""
    import numpy as np

    try:
        session = ort.InferenceSession(  # type: ignore[attr-defined]
            _tiny_model(), providers=[CUDA_EP, "CPUExecutionProvider"]
        )
        session.run(None, {"x": np.zeros(1, np.float32)})
    except Exception as e:  # noqa: BLE001 - ORT raises its own types; the message is the answer
        return None, f"{type(e).__name__}: {e}".splitlines()[0]
    return session.get_providers()[0], None


def inspect_onnxruntime() -> OrtFacts:
    """Import ONNX Runtime; where it offers CUDA, start a tiny CUDA session."""
    try:
        import onnxruntime as ort
    except (ImportError, OSError) as e:
        return OrtFacts(import_error=f"{type(e).__name__}: {e}".splitlines()[0])
    try:
        from onnxruntime.capi import build_and_package_info as info

        cuda_build = getattr(info, "cuda_version", None) or None
    except ImportError:
        cuda_build = None
    providers = tuple(ort.get_available_providers())
    session, error = _cuda_session(ort) if CUDA_EP in providers else (None, None)
    return OrtFacts(ort.__version__, providers, None, cuda_build, session, error)


def inspect_tensorrt() -> tuple[str | None, str | None]:
    """(TensorRT version, import error); (None, None) when it is not installed."""
    if importlib.util.find_spec("tensorrt") is None:
        return None, None
    try:
        import tensorrt
    except (ImportError, OSError) as e:
        return None, f"{type(e).__name__}: {e}".splitlines()[0]
    return str(tensorrt.__version__), None


def _ort_cuda_major(dist: Dist, cuda_build: str | None) -> int:
    """CUDA major of an onnxruntime-gpu build: its build info, else PyPI's default for the
    version (CUDA 12 from 1.19 on, CUDA 11 before)."""
    built = _major(cuda_build) if cuda_build else None
    if built:
        return built
    parts = tuple(int(p) for p in re.findall(r"\d+", dist.version)[:2])
    return 12 if parts >= (1, 19) else 11


def cuda_needs(dists: Mapping[str, Dist], ort: OrtFacts) -> list[CudaNeed]:
    """The CUDA major each installed GPU package was built for (cuda-python has its own check)."""
    needs = []
    gpu_ort = dists.get("onnxruntime-gpu")
    if gpu_ort is not None:
        major = _ort_cuda_major(gpu_ort, ort.cuda_build)
        needs.append(CudaNeed(f"onnxruntime-gpu {gpu_ort.version}", major))
    for name, dist in sorted(dists.items()):
        match = _TRT_CUDA.match(name)
        if match and not name.endswith(("-libs", "-bindings")):
            needs.append(CudaNeed(f"{name} {dist.version}", int(match.group(1))))
    return needs


def _ort_builds(dists: Mapping[str, Dist]) -> list[Dist]:
    return [dists[n] for n in ORT_BUILDS if n in dists]


def onnxruntime_check(dists: Mapping[str, Dist], deployment: Deployment) -> Check:
    name = "packages.onnxruntime"
    builds = _ort_builds(dists)
    install = ORT_GPU_INSTALL if deployment == "gpu" else "pip install onnxruntime"
    listed = " and ".join(f"{d.name} {d.version} ({d.location})" for d in builds)
    if len(builds) > 1:
        names = " ".join(d.name for d in builds)
        return fail(
            name,
            f"{listed} are {'both' if len(builds) == 2 else 'all'} installed: they share one "
            "`onnxruntime` package, so the files of "
            "whichever was installed last win and removing one breaks the other",
            f"pip uninstall -y {names} && {install}",
            blocking=True,
        )
    if not builds:
        return fail(
            name,
            "ONNX Runtime is not installed (python -m server's onnxruntime backend needs it)",
            install,
            blocking=deployment == "cpu",
        )
    (build,) = builds
    if deployment == "gpu" and build.name != "onnxruntime-gpu":
        return fail(
            name,
            f"{build.name} {build.version} is a CPU build: python -m server runs ONNX models on "
            f"the CPU here ({TRITON_IMAGE} brings its own)",
            f"pip uninstall -y {build.name} && {ORT_GPU_INSTALL}",
            blocking=False,
        )
    return ok(name, f"{build.name} {build.version}", version=build.version)


def providers_check(ort: OrtFacts, dists: Mapping[str, Dist], deployment: Deployment) -> Check:
    name = "packages.providers"
    if ort.import_error:
        build = "onnxruntime-gpu" if deployment == "gpu" else "onnxruntime"
        fix = f"pip install --force-reinstall {build}"
        return fail(name, f"onnxruntime does not import: {ort.import_error}", fix, blocking=True)
    listed = ", ".join(ort.providers)
    data = {"providers": list(ort.providers)}
    if deployment == "gpu" and CUDA_EP not in ort.providers:
        return fail(
            name,
            f"onnxruntime {ort.version} offers {listed}: no {CUDA_EP}",
            f"pip uninstall -y {' '.join(d.name for d in _ort_builds(dists)) or 'onnxruntime'} "
            f"&& {ORT_GPU_INSTALL}",
            blocking="onnxruntime-gpu" in dists,
            **data,
        )
    return ok(name, f"onnxruntime {ort.version} offers {listed}", **data)


def cuda_session_check(ort: OrtFacts, dists: Mapping[str, Dist], deployment: Deployment) -> Check:
    name = "packages.cuda_session"
    if ort.import_error or CUDA_EP not in ort.providers:
        return na(name, f"not tried: onnxruntime offers no {CUDA_EP}")
    if ort.cuda_session == CUDA_EP:
        built = f" (built for CUDA {ort.cuda_build})" if ort.cuda_build else ""
        return ok(name, f"a tiny ONNX model runs on {CUDA_EP}{built}")
    what = ort.cuda_error or f"the session fell back to {ort.cuda_session}"
    return fail(
        name,
        f"{CUDA_EP} is offered but a session does not start on it: {what} (CUDA 12 / cuDNN 9 "
        "libraries missing, or the driver is too old; ONNX Runtime's own message is on stderr)",
        f"{ORT_GPU_INSTALL} (brings the CUDA and cuDNN libraries), then check host.cuda_driver",
        blocking=deployment == "gpu" and "onnxruntime-gpu" in dists,
    )


def tensorrt_check(version: str | None, error: str | None, deployment: Deployment) -> Check:
    name = "packages.tensorrt"
    pinned = NGC_TENSORRT_VERSION
    fix = (
        f"{pip_install(*TENSORRT_REQUIREMENTS)} or build in {TENSORRT_IMAGE} "
        "(docker compose's convert)"
    )
    if error:
        return fail(
            name, f"tensorrt is installed but does not import: {error}", fix, blocking=False
        )
    if version is None:
        return na(name, f"not installed (only needed to build plans; {TENSORRT_IMAGE} has it)")
    if version.split(".")[:3] != pinned.split(".")[:3]:
        return fail(
            name,
            f"TensorRT {version} here, {TRITON_IMAGE} runs {pinned}: plans built with this one "
            "do not load there",
            fix,
            blocking=False,
            version=version,
        )
    return ok(name, f"TensorRT {version}, the same as {TRITON_IMAGE}'s", version=version)


def cuda_python_check(
    dists: Mapping[str, Dist], driver_cuda_major: int | None, deployment: Deployment
) -> Check:
    """cuda-python's major is the CUDA it targets; `python -m convert trt` uses it."""
    name = "packages.cuda_python"
    dist = next((dists[n] for n in CUDA_PYTHON if n in dists), None)
    if dist is None:
        return na(name, "not installed (python -m convert trt uses it, or torch)")
    major = _major(dist.version)
    needs = f"{dist.name} {dist.version} targets CUDA {major}"
    if driver_cuda_major is None:
        return na(name, f"{needs}; no NVIDIA driver here to run it", version=dist.version)
    if major is not None and major > driver_cuda_major:
        minimum = CUDA_MIN_DRIVER_BRANCH.get(major, "a newer branch")
        return fail(
            name,
            f"{needs} (driver ≥ {minimum}); this driver runs CUDA ≤ {driver_cuda_major}.x, so "
            "python -m convert trt fails with an insufficient-driver error",
            f"pip install 'cuda-python>={driver_cuda_major},<{driver_cuda_major + 1}'",
            blocking=False,
            version=dist.version,
        )
    return ok(name, f"{needs}; the driver runs CUDA {driver_cuda_major}", version=dist.version)
