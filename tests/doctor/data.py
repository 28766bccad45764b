"""Recorded outputs and builders for the doctor's tests.

The nvidia-smi texts follow NVIDIA's documented CSV format (``nvidia-smi --help-query-gpu``;
``--format=csv`` prints a header and units, ``noheader``/``nounits`` drop them). Plan manifests
are written by the project's own ``convert.trt.stage`` functions, so they have the real format.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from convert.model_config import OnnxVariant, TrtVariant, to_file
from convert.trt.cuda import GpuInfo
from convert.trt.profile import BuildSettings, load_profile
from convert.trt.stage import engine_manifest, fingerprint
from convert.trt.verify import Verification
from doctor.report import SCHEMA
from tests.cli_run import run_cli
from u2net.agreement import MaskAgreement
from u2net.deployment import URL_ENV
from u2net.repository.layout import ONNX_FILE, PLAN_FILE, staged_paths

ROOT = Path(__file__).resolve().parents[2]

# --query-gpu=name,memory.total,compute_cap,driver_version --format=csv,noheader,nounits
SMI_RTX4090 = "NVIDIA GeForce RTX 4090, 24564, 8.9, 550.54.15\n"
SMI_TWO_A100 = (
    "NVIDIA A100-SXM4-80GB, 81920, 8.0, 535.104.05\nNVIDIA A100-SXM4-80GB, 81920, 8.0, 535.104.05\n"
)
SMI_H100_NA_MEMORY = "NVIDIA H100 80GB HBM3, [N/A], 9.0, 560.35.03\n"
# the same query with --format=csv: a header line and units
SMI_T4_HEADER_UNITS = (
    "name, memory.total [MiB], compute_cap, driver_version\nTesla T4, 15360 MiB, 7.5, 470.57.02\n"
)
# --query-gpu=name,memory.total,driver_version (drivers before 510 have no compute_cap)
SMI_V100_NO_CC = "Tesla V100-SXM2-16GB, 16160, 470.57.02\n"
SMI_NO_CC_FIELD = 'Field "compute_cap" is not a valid field to query.\n'
SMI_NO_DRIVER = (
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure "
    "that the latest NVIDIA driver is installed and running.\n"
)

# Triton's /metrics with the gauge our python-based onnxruntime backend sets (recorded from
# `python -m server --models u2netp_onnx` on this machine, trimmed)
METRICS_TEXT = """\
# HELP nv_inference_count Number of inferences performed (does not include cached requests)
# TYPE nv_inference_count counter
nv_inference_count{model="u2netp_onnx",version="1"} 0
# HELP u2net_onnxruntime_execution_provider 1 for the ONNX Runtime execution provider each \
instance runs on
# TYPE u2net_onnxruntime_execution_provider gauge
u2net_onnxruntime_execution_provider{instance="u2netp_onnx_0_0",model="u2netp_onnx",\
provider="CPUExecutionProvider",version="1"} 1
u2net_onnxruntime_execution_provider{instance="u2net_onnx_0_0",model="u2net_onnx",\
provider="CUDAExecutionProvider",version="1"} 1
u2net_onnxruntime_execution_provider{instance="u2net_onnx_0_1",model="u2net_onnx",\
provider="CPUExecutionProvider",version="1"} 0
"""

FAKE_PLAN = b"not really a plan"


def plan_manifest(tensorrt_version: str, capability: str, repository: Path) -> dict[str, Any]:
    """A manifest exactly as ``python -m convert trt`` writes it (u2netp, fp16, verified)."""
    profile = load_profile(repository, "u2netp", 8)
    inputs = fingerprint(
        tensorrt_version=tensorrt_version,
        gpu=GpuInfo("NVIDIA H100 80GB HBM3", capability),
        profile=profile,
        settings=BuildSettings(precision="fp16", opt_batch=8, workspace_gb=4),
        source_md5="0c926c1de58d2568624a1f81fdbc4c37",
    )
    agreement = MaskAgreement("astronaut.png@batch1", 0.998, 0.4, 12)
    return engine_manifest(
        model="u2netp",
        inputs=inputs,
        plan=FAKE_PLAN,
        build_seconds=41.3,
        timing_cache_found=False,
        verification=Verification((agreement,)),
        forced=False,
        built_at="2024-11-02T10:00:00+00:00",
    )


def repository_with_plan(root: Path, tensorrt_version: str, capability: str) -> Path:
    """u2netp's ONNX and TensorRT configs, a staged (fake) plan and its real-format manifest."""
    for variant in (OnnxVariant("u2netp"), TrtVariant("u2netp")):
        to_file(variant.get_config(), root)
    plan, manifest = staged_paths(root, TrtVariant("u2netp").name, PLAN_FILE)
    plan.parent.mkdir(parents=True)
    plan.write_bytes(FAKE_PLAN)
    manifest.write_text(json.dumps(plan_manifest(tensorrt_version, capability, root), indent=2))
    onnx, _ = staged_paths(root, OnnxVariant("u2netp").name, ONNX_FILE)
    onnx.parent.mkdir(parents=True)
    onnx.write_bytes(b"stands in for the staged ONNX; no manifest, so no md5 to match")
    return root


def fake_nvidia_smi(folder: Path, csv_text: str) -> Path:
    """An ``nvidia-smi`` that prints ``csv_text`` (whatever it is asked)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "nvidia-smi"
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{csv_text}EOF\n")
    script.chmod(0o755)
    return folder


def path_without_nvidia_smi(extra: Path | None = None) -> str:
    """$PATH minus folders holding an nvidia-smi, ``extra`` first."""
    folders = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    kept = [p for p in folders if not (Path(p) / "nvidia-smi").exists()]
    return os.pathsep.join([str(extra)] * (extra is not None) + kept)


def make_venv(target: Path, fake_dists: dict[str, str]) -> Path:
    """A real virtualenv whose site-packages adds this venv's (``site.addsitedir`` in a .pth,
    so the project's dependencies import) and holds ``fake_dists`` as installed
    distributions: a ``<name>-<version>.dist-info/METADATA`` folder each, which is what
    :mod:`importlib.metadata` reads. Returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
    python = target / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    site_packages = Path(site)
    ours = sysconfig.get_paths()["purelib"]
    (site_packages / "_outer_venv.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    for name, version in fake_dists.items():
        info = site_packages / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "INSTALLER").write_text("pip\n")
        (info / "RECORD").write_text("")
    return python


def run_doctor(
    *args: str | Path, python: str | Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m doctor args`` without the caller's ``U2NET_TRITON_URL``: ``main(argv)`` in
    this process (tests/cli_run.py: its environment, output and exit code as a process would
    have them), or a real process of ``python``, another virtualenv's interpreter, whose
    installed packages are what the doctor reads."""
    if python is None:
        saved = os.environ.pop(URL_ENV, None)
        try:
            return run_cli("doctor", *args, env=env)
        finally:
            if saved is not None:
                os.environ[URL_ENV] = saved
    environment = {k: v for k, v in os.environ.items() if k != URL_ENV}
    return subprocess.run(
        [str(python), "-m", "doctor", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**environment, **(env or {})},
        timeout=300,
        check=False,
    )


def structure_errors(report: Any) -> list[str]:
    """What is wrong with a ``--json`` report: its JSON Schema (``report.schema.json``,
    shipped with the doctor) and unique check names, which a schema cannot express."""
    schema = json.loads(SCHEMA.read_text())
    errors = [
        f"{'/'.join(map(str, e.absolute_path)) or '(report)'}: {e.message}"
        for e in Draft202012Validator(schema).iter_errors(report)
    ]
    names = (
        [c.get("name") for c in report if isinstance(c, dict)] if isinstance(report, list) else []
    )
    if len(set(names)) != len(names):
        errors.append("check names repeat")
    return errors


def by_name(report: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report}
