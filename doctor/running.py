"""Check 4, a running server: reachable, ready models, where each model's instances run
(Triton's model config: ``KIND_GPU``/``KIND_CPU``; for the python-based ONNX Runtime backend
the execution provider it reports on the metrics endpoint) and a timed probe of a real photo.
"""

from __future__ import annotations

import logging
import re
import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from client.errors import RemoteError
from client.triton import ONE_ATTEMPT, TritonServer
from doctor.check import Check, Deployment, fail, na, ok
from doctor.reference import GPU_SUSPECT_FRACTION, REFERENCE_HOST, cpu_reference_ms
from u2net.catalogue import KNOWN_MODELS, base_name, contract_of
from u2net.contract import CONTRACT, ServingContract, check_metadata, sized_as_served
from u2net.deployment import ORT_GPU_REQUIREMENT, TRITON_IMAGE, URL_ENV, pip_install
from u2net.errors import ContractMismatch, ServingError
from u2net.samples import PROBE_NAME, sample_inputs

logger = logging.getLogger(__name__)

# the gauge server/backends/onnxruntime/model.py sets (a test checks both say the same)
PROVIDER_METRIC = "u2net_onnxruntime_execution_provider"
PROBE_PHOTO = PROBE_NAME
CUDA_EP = "CUDAExecutionProvider"
START = f"start one: `python -m server` (CPU) or `docker compose up -d` (GPU, {TRITON_IMAGE})"
_SAMPLE = re.compile(r"^(?P<name>[A-Za-z_:][\w:]*)\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class ModelRuntime:
    """Where one ready model runs and how fast the probe was."""

    name: str
    instances: tuple[tuple[str, int], ...]  # (KIND_GPU/KIND_CPU/..., count)
    backend: str
    python_based: bool  # the embedded server's python-based onnxruntime backend
    providers: tuple[str, ...] | None  # from the metrics endpoint; None: not readable
    ms_per_image: float | None = None
    runs: int = 0
    probe_error: str | None = None  # the inference failed
    not_timed: str | None = None  # no probe input (scikit-image missing)

    @property
    def kinds(self) -> set[str]:
        return {kind for kind, _ in self.instances}


@dataclass(frozen=True)
class ServerFacts:
    url: str
    error: str | None = None  # None: reachable
    version: str | None = None
    ready: bool = False
    models: tuple[ModelRuntime, ...] = field(default_factory=tuple)
    metrics_url: str | None = None
    metrics_error: str | None = None


def default_metrics_url(grpc_url: str) -> str:
    """Triton's metrics on the gRPC host's port 8002 (both deployments' default)."""
    host = grpc_url.rsplit(":", 1)[0] if grpc_url.count(":") == 1 else grpc_url
    return f"{host}:8002"


def parse_provider_metrics(text: str, metric: str = PROVIDER_METRIC) -> dict[str, set[str]]:
    """Model -> execution providers, from Prometheus text (samples with value > 0)."""
    found: dict[str, set[str]] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        if not match or match.group("name") != metric:
            continue
        labels = dict(_LABEL.findall(match.group("labels")))
        try:
            value = float(match.group("value"))
        except ValueError:
            continue
        if value > 0 and "model" in labels and "provider" in labels:
            found.setdefault(labels["model"], set()).add(labels["provider"])
    return found


def fetch_metrics(metrics_url: str, timeout_s: float) -> str:
    url = metrics_url if "://" in metrics_url else f"http://{metrics_url}"
    with urllib.request.urlopen(f"{url.rstrip('/')}/metrics", timeout=timeout_s) as response:
        return response.read().decode("utf-8", errors="replace")


def _short(e: RemoteError) -> str:
    """``UNAVAILABLE: connection refused`` rather than gRPC's paragraph."""
    status, message = e.status, e.reason
    if "connection refused" in message.lower():
        message = "connection refused"
    elif len(message) > 160:
        message = message[:157] + "..."
    return f"{status}: {message}" if status else message


def _instances(config: Mapping[str, Any]) -> tuple[tuple[str, int], ...]:
    groups = config.get("instance_group") or []
    return tuple((g.get("kind", "KIND_AUTO"), int(g.get("count", 1))) for g in groups)


def probe_batch(contract: ServingContract = CONTRACT) -> np.ndarray | str:
    """The probe's input (a real photo as the contract's batch of one), or why there is none."""
    try:
        return sample_inputs((PROBE_PHOTO,), contract)[1]
    except ServingError as e:
        return str(e)


def unseen(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``batch`` with each image's first pixel drawn at random: an image a server's response
    cache (``python -m server --response-cache-mb``) has not seen, so the model runs."""
    fresh = batch.copy()
    fresh[:, 0, 0] = rng.integers(0, 256, size=fresh[:, 0, 0].shape, dtype=fresh.dtype)
    return fresh


def probe(server: TritonServer, name: str, batch: np.ndarray, runs: int, timeout_s: float) -> float:
    """Median ms per image over ``runs`` batch-1 inferences (after one warm-up), each of an
    image the server has not seen. Raises the client's RemoteError."""
    rng = np.random.default_rng()
    server.infer(name, unseen(batch, rng), CONTRACT, timeout_s * 10)
    times = []
    for _ in range(runs):
        fresh = unseen(batch, rng)
        start = time.perf_counter()
        server.infer(name, fresh, CONTRACT, timeout_s * 10)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _runtime(
    server: TritonServer,
    name: str,
    providers: Mapping[str, set[str]] | None,
    batch: np.ndarray | str,
    *,
    runs: int,
    timeout_s: float,
) -> ModelRuntime:
    config = server.model_config(name)
    python_based = str(config.get("runtime", "")).endswith(".py")
    backend = config.get("backend") or config.get("platform") or "?"
    own = tuple(sorted(providers.get(name, ()))) if providers is not None else None
    runtime = ModelRuntime(name, _instances(config), backend, python_based, own)
    if isinstance(batch, str):
        return replace(runtime, not_timed=batch)
    try:
        metadata = server.model_metadata(name)
        known = base_name(name) in KNOWN_MODELS  # else a custom model: the size it is served at
        contract = contract_of(name) if known else sized_as_served(metadata, CONTRACT)
        check_metadata(metadata, contract)
    except ContractMismatch as e:
        return replace(runtime, not_timed=f"not the U²-Net serving contract ({e})")
    if contract.size != CONTRACT.size and not isinstance(batch, str):
        batch = probe_batch(contract)  # IS-Net's 1024²
        if isinstance(batch, str):
            return replace(runtime, not_timed=batch)
    try:
        ms = probe(server, name, batch, runs, timeout_s)
    except RemoteError as e:
        return replace(runtime, probe_error=_short(e))
    return replace(runtime, ms_per_image=ms, runs=runs)


def inspect_server(
    url: str,
    candidates: Iterable[str],
    metrics_url: str | None,
    runs: int,
    timeout_s: float,
) -> ServerFacts:
    """Ask the server at ``url`` what it serves, where, and how fast (each question once,
    within ``timeout_s``: the doctor reports what it finds, it does not wait for a server)."""
    with TritonServer(url, timeout_s=timeout_s, retry=ONE_ATTEMPT) as server:
        try:
            return _inspect(
                server,
                url,
                candidates=candidates,
                metrics_url=metrics_url,
                runs=runs,
                timeout_s=timeout_s,
            )
        except RemoteError as e:
            return ServerFacts(url, error=_short(e))


def _providers(metrics_url: str | None, timeout_s: float) -> tuple[dict | None, str | None]:
    if not metrics_url:
        return None, None
    try:
        return parse_provider_metrics(fetch_metrics(metrics_url, timeout_s)), None
    except (urllib.error.URLError, OSError, ValueError) as e:
        return None, str(getattr(e, "reason", e))


def _inspect(
    server: TritonServer,
    url: str,
    *,
    candidates: Iterable[str],
    metrics_url: str | None,
    runs: int,
    timeout_s: float,
) -> ServerFacts:
    server.is_live()
    version = server.version()
    ready = server.is_ready()
    names = [n for n in candidates if server.is_model_ready(n)]
    providers, metrics_error = _providers(metrics_url, timeout_s)
    batch = probe_batch() if names else "no model to time"
    models = tuple(
        _runtime(server, n, providers, batch, runs=runs, timeout_s=timeout_s) for n in names
    )
    return ServerFacts(url, None, version, ready, models, metrics_url, metrics_error)


def server_check(facts: ServerFacts, url_given: bool) -> Check:
    """Reachable and ready. Down is blocking only when the address was asked for (``--url``
    or ``$U2NET_TRITON_URL``); by default the doctor may run before any server exists."""
    name = "server"
    if facts.error is not None:
        return fail(
            name,
            f"no Triton answering at {facts.url} ({facts.error})",
            f"{START}; or point --url / ${URL_ENV} at yours",
            blocking=url_given,
            url=facts.url,
        )
    state = "ready" if facts.ready else "live but NOT ready (a model failed to load?)"
    detail = f"Triton {facts.version} at {facts.url}, {state}"
    if not facts.ready:
        return fail(name, detail, "read the server's log", blocking=True, url=facts.url)
    return ok(name, detail, url=facts.url, version=facts.version)


def ready_check(facts: ServerFacts) -> Check:
    name = "server.models"
    if facts.error is not None:
        return na(name, "no server to ask")
    names = [m.name for m in facts.models]
    if not names:
        return fail(
            name,
            f"no U²-Net model is ready at {facts.url}",
            "start the server with staged models: `python -m server --models u2netp_onnx`",
            blocking=True,
        )
    return ok(name, f"ready: {', '.join(names)}", ready=names)


def _where(model: ModelRuntime, facts: ServerFacts) -> str:
    instances = ", ".join(f"{count}× {kind}" for kind, count in model.instances) or "?"
    if not model.python_based:
        return f"{instances} ({model.backend}, NVIDIA's backend)"
    if model.providers:
        return f"{instances} on {', '.join(model.providers)}"
    why = facts.metrics_error or "not in the metrics"
    return f"{instances}, provider not reported (metrics {facts.metrics_url or 'not read'}: {why})"


def _speed(model: ModelRuntime) -> tuple[str, float | None]:
    reference = cpu_reference_ms(model.name)
    if model.ms_per_image is None:
        return f"not timed: {model.not_timed}", None
    measured = f"{model.ms_per_image:.0f} ms/img (median of {model.runs})"
    if reference is None:
        return measured, None
    ratio = model.ms_per_image / reference
    text = f"{measured} = {ratio:.2f}× this project's {reference:.0f} ms/img on a {REFERENCE_HOST}"
    return text, ratio


def _gpu_problem(model: ModelRuntime, ratio: float | None) -> str | None:
    """Why a model that should run on the GPU does not, or None."""
    if "KIND_GPU" not in model.kinds:
        return f"instances are {', '.join(sorted(model.kinds)) or '?'}, not KIND_GPU"
    if model.python_based and model.providers is not None and CUDA_EP not in model.providers:
        return f"KIND_GPU, but ONNX Runtime runs on {', '.join(model.providers) or '?'}"
    if ratio is not None and ratio >= GPU_SUSPECT_FRACTION:
        return "KIND_GPU, but as slow as this project's CPU"
    return None


GPU_FIX = (
    "make the GPU visible to Triton (NVIDIA driver; in Docker the NVIDIA Container Toolkit) and, "
    f"for python -m server, {pip_install(ORT_GPU_REQUIREMENT)} (see packages.*); restart it"
)


def model_check(model: ModelRuntime, facts: ServerFacts, deployment: Deployment) -> Check:
    name = f"server.{model.name}"
    where = _where(model, facts)
    data = {
        "instances": [list(i) for i in model.instances],
        "providers": list(model.providers or ()),
        "ms_per_image": model.ms_per_image,
        "reference_ms": cpu_reference_ms(model.name),
        "on_gpu": False,
    }
    if model.probe_error:
        return fail(
            name,
            f"{where}; the probe failed: {model.probe_error}",
            "read the server's log (`python -m server -v`)",
            blocking=True,
            **data,
        )
    speed, ratio = _speed(model)
    problem = _gpu_problem(model, ratio)
    data["on_gpu"] = problem is None
    if deployment == "gpu" and problem:
        return fail(name, f"{where}; {speed}; {problem}", GPU_FIX, blocking=True, **data)
    return ok(name, f"{where}; {speed}", **data)


def model_checks(facts: ServerFacts, deployment: Deployment) -> Sequence[Check]:
    return [model_check(m, facts, deployment) for m in facts.models]
