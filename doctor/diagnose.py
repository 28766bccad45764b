"""Run every check in order (the I/O shell around the pure checks)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from doctor import gateway, host, packages, repository, running
from doctor.check import Check, Deployment, Status, fail, na, ok
from u2net.catalogue import KNOWN_MODELS
from u2net.contract import CUTOUT

logger = logging.getLogger(__name__)

Requested = Literal["auto", "cpu", "gpu"]
CATALOGUE = tuple(
    n for m in KNOWN_MODELS.values() for n in (*reversed(m.served_names), m.int8_name)
)
# where to look for the reason the GPU is not used, most basic first
_REASONS = ("host.gpu", "host.cuda_driver", "packages.", "repository", "server")


@dataclass(frozen=True)
class Options:
    url: str
    url_given: bool  # --url or $U2NET_TRITON_URL: a server is expected there
    repository: Path
    deployment: Requested = "auto"
    metrics_url: str | None = None
    web_url: str | None = None
    probe_runs: int = 3
    timeout_s: float = 5.0


def choose_deployment(requested: Requested, query: host.GpuQuery) -> tuple[Deployment, str]:
    """``auto``: the GPU deployment where nvidia-smi exists (a GPU host, maybe broken)."""
    if requested != "auto":
        return requested, "as asked (--deployment)"
    if query.smi_found:
        return "gpu", "auto: nvidia-smi is installed"
    return "cpu", f"auto: {query.error}, so no NVIDIA GPU"


def _host_and_packages(query: host.GpuQuery, deployment: Deployment) -> list[Check]:
    dists = packages.installed()
    ort = packages.inspect_onnxruntime()
    trt_version, trt_error = packages.inspect_tensorrt()
    driver = query.driver_version
    driver_major = host.driver_cuda_major(driver) if driver else None
    return [
        host.gpu_check(query, deployment),
        host.driver_check(query, packages.cuda_needs(dists, ort), deployment),
        packages.onnxruntime_check(dists, deployment),
        packages.providers_check(ort, dists, deployment),
        packages.cuda_session_check(ort, dists, deployment),
        packages.tensorrt_check(trt_version, trt_error, deployment),
        packages.cuda_python_check(dists, driver_major, deployment),
    ]


def _repository(
    path: Path, query: host.GpuQuery, deployment: Deployment
) -> tuple[list[Check], list[str]]:
    """The repository's checks, and its model names (the server is asked about them too)."""
    models = repository.inspect_repository(path)
    capabilities = [g.compute_capability for g in query.gpus if g.compute_capability]
    checks = [repository.staged_check(path, models, deployment)]
    checks += [
        repository.model_check(m, capabilities, deployment)
        for m in models or []
        if m.staged or m.config is None
    ]
    return checks, [m.name for m in models or []]


def _server(options: Options, names: Sequence[str], deployment: Deployment) -> list[Check]:
    # the U²-Net models (mask contract); `cutout` (bytes in, image out) serves them
    candidates = sorted(set(CATALOGUE) | set(names) - {CUTOUT.name})
    metrics_url = options.metrics_url or running.default_metrics_url(options.url)
    facts = running.inspect_server(
        options.url, candidates, metrics_url, options.probe_runs, options.timeout_s
    )
    checks = [running.server_check(facts, options.url_given), running.ready_check(facts)]
    return checks + list(running.model_checks(facts, deployment))


def gpu_verdict(checks: Sequence[Check], deployment: Deployment) -> Check:
    """The answer to "is the GPU used?", from the checks before it."""
    name = "gpu"
    models = [c for c in checks if "on_gpu" in c.data]
    on_gpu = [c.name.removeprefix("server.") for c in models if c.data["on_gpu"]]
    if on_gpu:
        return ok(name, f"in use: {', '.join(on_gpu)} run on the GPU", in_use=True)
    reason = next(
        (c for p in _REASONS for c in checks if c.name.startswith(p) and c.status != Status.OK),
        None,
    )
    measured = "every ready model runs on the CPU" if models else "no server answered"
    why = f"{measured} ({reason.name}: {reason.detail})" if reason else measured
    if deployment == "cpu":
        return na(name, f"not in use: {why}", in_use=False)
    fix = reason.fix if reason and reason.fix else running.START
    return fail(name, f"NOT in use: {why}", fix, blocking=False, in_use=False)


def diagnose(options: Options) -> tuple[Deployment, list[Check]]:
    query = host.query_gpus()
    deployment, why = choose_deployment(options.deployment, query)
    checks = [ok("deployment", f"{deployment} — {why}", deployment=deployment)]
    checks += _host_and_packages(query, deployment)
    repo_checks, names = _repository(options.repository, query, deployment)
    checks += repo_checks
    checks += _server(options, names, deployment)
    web = gateway.readyz(options.web_url, options.timeout_s) if options.web_url else None
    checks.append(gateway.gateway_check(web, options.url))
    checks.append(gpu_verdict(checks, deployment))
    return deployment, checks
