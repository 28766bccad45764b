"""Check 1, the host: NVIDIA GPUs (from ``nvidia-smi``) and whether the driver is new enough for
the CUDA that the installed packages and the pinned NGC image need.

``parse_gpu_csv`` reads the CSV that ``nvidia-smi --query-gpu=... --format=csv`` prints (as
documented by ``nvidia-smi --help-query-gpu``); ``query_gpus`` is the only code that runs it.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from doctor.check import Check, Deployment, fail, na, ok
from u2net.deployment import (
    NGC_CUDA_VERSION,
    NGC_FORWARD_COMPATIBLE_DRIVERS,
    NGC_MIN_DRIVER_BRANCH,
    TRITON_IMAGE,
)

logger = logging.getLogger(__name__)

NVIDIA_SMI = "nvidia-smi"
GPU_FIELDS = ("name", "memory.total", "compute_cap", "driver_version")
SMI_TIMEOUT_S = 10.0
# CUDA's minor-version compatibility (NVIDIA, "CUDA Compatibility"): a package built for CUDA
# major M runs on any driver of at least this branch.
CUDA_MIN_DRIVER_BRANCH = {11: 450, 12: 525, 13: 580}
_MISSING = {"", "[n/a]", "[not supported]", "n/a", "[unknown error]"}
DRIVER_FIX = "install the NVIDIA driver (`nvidia-smi` must list the GPU)"


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_mib: int | None
    compute_capability: str | None  # "8.9"
    driver_version: str | None

    @property
    def sm(self) -> str:
        """``sm_89`` for compute capability 8.9."""
        return f"sm_{self.compute_capability.replace('.', '')}" if self.compute_capability else "?"

    def describe(self) -> str:
        memory = f"{self.memory_mib} MiB" if self.memory_mib is not None else "memory unknown"
        return f"{self.name} ({memory}, compute {self.compute_capability or '?'} = {self.sm})"


@dataclass(frozen=True)
class GpuQuery:
    """What nvidia-smi said: ``smi_found`` is False when it is not installed at all."""

    smi_found: bool
    gpus: tuple[Gpu, ...] = ()
    error: str | None = None

    @property
    def driver_version(self) -> str | None:
        return next((g.driver_version for g in self.gpus if g.driver_version), None)


@dataclass(frozen=True)
class CudaNeed:
    """An installed package (or the pinned image) and the CUDA major version it was built for."""

    what: str
    cuda_major: int


def _value(text: str) -> str | None:
    text = text.strip()
    return None if text.lower() in _MISSING else text


def _mib(text: str) -> int | None:
    value = _value(text)
    if value is None:
        return None
    number = value.split()[0]  # "24564" (nounits) or "24564 MiB"
    return int(float(number)) if number.replace(".", "", 1).isdigit() else None


def parse_gpu_csv(text: str, fields: Sequence[str] = GPU_FIELDS) -> list[Gpu]:
    """GPUs from ``nvidia-smi --query-gpu=<fields> --format=csv[,noheader][,nounits]``.

    A header line (``name, memory.total [MiB], ...``) is skipped; ``[N/A]`` becomes None.
    Fields missing from ``fields`` (older drivers have no ``compute_cap``) are None.
    """
    gpus = []
    for row in csv.reader(text.splitlines(), skipinitialspace=True):
        if not row or not "".join(row).strip():
            continue
        if row[0].strip().lower() == "name":
            continue
        values = dict(zip(fields, row, strict=False))
        name = _value(values.get("name", ""))
        if name is None:
            raise ValueError(f"expected a GPU name in nvidia-smi's CSV, got {row!r}")
        gpus.append(
            Gpu(
                name=name,
                memory_mib=_mib(values.get("memory.total", "")),
                compute_capability=_value(values.get("compute_cap", "")),
                driver_version=_value(values.get("driver_version", "")),
            )
        )
    return gpus


Runner = Callable[[list[str]], subprocess.CompletedProcess[str]]


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=SMI_TIMEOUT_S, check=False
    )


def _first_line(done: subprocess.CompletedProcess[str]) -> str:
    text = (done.stdout or "") + "\n" + (done.stderr or "")
    return next((line.strip() for line in text.splitlines() if line.strip()), "no output")


def query_gpus(run: Runner = _run, which: Callable[[str], str | None] = shutil.which) -> GpuQuery:
    """Ask nvidia-smi; without ``compute_cap`` (drivers before 510) ask again without it."""
    smi = which(NVIDIA_SMI)
    if smi is None:
        return GpuQuery(smi_found=False, error=f"{NVIDIA_SMI} is not on PATH")
    fields: tuple[str, ...] = GPU_FIELDS
    for _attempt in range(2):
        command = [smi, f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"]
        try:
            done = run(command)
        except (OSError, subprocess.SubprocessError) as e:
            return GpuQuery(smi_found=True, error=f"{NVIDIA_SMI} did not run: {e}")
        logger.debug("%s -> %s: %r", " ".join(command), done.returncode, done.stdout)
        if done.returncode == 0:
            try:
                return GpuQuery(smi_found=True, gpus=tuple(parse_gpu_csv(done.stdout, fields)))
            except ValueError as e:
                return GpuQuery(smi_found=True, error=str(e))
        if "compute_cap" not in _first_line(done) or "compute_cap" not in fields:
            return GpuQuery(smi_found=True, error=_first_line(done))
        fields = tuple(f for f in fields if f != "compute_cap")
    return GpuQuery(smi_found=True, error=_first_line(done))


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


def driver_cuda_major(driver_version: str) -> int | None:
    """The newest CUDA major version a driver runs (minor-version compatibility)."""
    branch = _version(driver_version)[:1]
    majors = [m for m, b in CUDA_MIN_DRIVER_BRANCH.items() if branch and branch[0] >= b]
    return max(majors) if majors else None


def ngc_driver_ok(driver_version: str) -> bool:
    """Whether the pinned NGC images run on this driver (release notes: 560+, or a
    data-center forward-compatible branch at or above its listed version)."""
    version = _version(driver_version)
    if not version:
        return False
    if version[0] >= NGC_MIN_DRIVER_BRANCH:
        return True
    return any(
        version[0] == _version(v)[0] and version >= _version(v)
        for v in NGC_FORWARD_COMPATIBLE_DRIVERS
    )


def gpu_check(query: GpuQuery, deployment: Deployment) -> Check:
    name = "host.gpu"
    if query.gpus:
        listed = "; ".join(f"GPU {i}: {g.describe()}" for i, g in enumerate(query.gpus))
        return ok(
            name,
            f"{listed}; driver {query.driver_version or '?'}",
            gpus=[dataclasses.asdict(g) for g in query.gpus],
        )
    why = query.error or "nvidia-smi lists no GPU"
    if deployment == "cpu":
        return na(name, f"no NVIDIA GPU: {why}; models run on the CPU here", gpus=[])
    return fail(name, f"no usable NVIDIA GPU: {why}", DRIVER_FIX, blocking=True, gpus=[])


def _needs_text(needs: Sequence[CudaNeed]) -> str:
    return ", ".join(f"{n.what} (CUDA {n.cuda_major})" for n in needs) or "nothing"


def driver_check(query: GpuQuery, needs: Sequence[CudaNeed], deployment: Deployment) -> Check:
    """The driver's CUDA against what the installed GPU packages and the pinned image need."""
    name = "host.cuda_driver"
    driver = query.driver_version
    if driver is None:
        return na(name, f"no NVIDIA driver; GPU packages installed: {_needs_text(needs)}")
    major = driver_cuda_major(driver)
    too_new = [n for n in needs if major is None or n.cuda_major > major]
    problems = [
        f"{n.what} needs CUDA {n.cuda_major} (driver ≥ {CUDA_MIN_DRIVER_BRANCH[n.cuda_major]})"
        for n in too_new
        if n.cuda_major in CUDA_MIN_DRIVER_BRANCH
    ]
    if not ngc_driver_ok(driver):
        problems.append(
            f"{TRITON_IMAGE} (CUDA {NGC_CUDA_VERSION}) needs driver ≥ {NGC_MIN_DRIVER_BRANCH} "
            f"(data-center GPUs: {', '.join(NGC_FORWARD_COMPATIBLE_DRIVERS)} or later in branch)"
        )
    runs = f"driver {driver} runs CUDA ≤ {major}.x" if major else f"driver {driver} is too old"
    data = {"driver_version": driver, "cuda_major": major}
    if problems:
        branches = [CUDA_MIN_DRIVER_BRANCH.get(n.cuda_major, 0) for n in too_new]
        wanted = max([NGC_MIN_DRIVER_BRANCH, *branches])
        return fail(
            name,
            f"{runs}; {'; '.join(problems)}",
            f"upgrade the NVIDIA driver to ≥ {wanted}, or install builds for CUDA {major or 12}",
            blocking=deployment == "gpu",
            **data,
        )
    return ok(name, f"{runs}: enough for {_needs_text(needs)} and {TRITON_IMAGE}", **data)
