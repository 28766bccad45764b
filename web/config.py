"""The gateway's settings as plain data (built by the CLI, or directly by tests and embedders)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from client.breaker import BreakerPolicy
from client.targets import DEFAULT_RERESOLVE_S
from u2net.catalogue import DEFAULT_MODEL
from u2net.image.io import DEFAULT_MAX_PIXELS

MB = 1024 * 1024
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7000  # rembg's
DEFAULT_MAX_UPLOAD_MB = 25
DEFAULT_CONCURRENCY = 4
DEFAULT_QUEUE = 16
DEFAULT_TIMEOUT_S = 60.0
# an idle connection is kept longer than a client or load balancer keeps it (httpx: 5 s,
# most balancers: 60 s): else a request sent as the gateway closes it is lost unanswered
KEEP_ALIVE_S = 75
DRAIN_S = 10  # after SIGTERM, how long the requests already accepted may take to finish
# What the cuts in flight may hold in Triton at once (u2net.memory's estimates): the CPU
# overlay's 3.5 GiB limit less Triton with its models and two cutout instances (1.5 GB).
DEFAULT_MEMORY_BUDGET_MB = 2048
MEMORY_BUDGET_ENV = "U2NET_MEMORY_BUDGET_MB"


@dataclass(frozen=True)
class FetchPolicy:
    """``GET /api/remove?url=`` and remove.bg's ``image_url``: off unless ``enabled``.

    Only public addresses are fetched (checked after DNS resolution and after every
    redirect); ``exempt_networks`` lifts that for named networks (tests: 127.0.0.1/32).
    """

    enabled: bool = False
    max_redirects: int = 5
    timeout_s: float = 20.0
    exempt_networks: tuple[str, ...] = ()

    def exempt(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in ipaddress.ip_network(net) for net in self.exempt_networks)


@dataclass(frozen=True)
class WebConfig:
    triton_url: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    api_keys: frozenset[str] = frozenset()  # empty: no key needed
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * MB
    max_pixels: int = DEFAULT_MAX_PIXELS
    concurrency: int = DEFAULT_CONCURRENCY  # requests in flight to Triton
    queue: int = DEFAULT_QUEUE  # requests waiting beyond that
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_MB * MB  # cuts in flight hold at most
    cors_origins: tuple[str, ...] = ()
    fetch: FetchPolicy = field(default_factory=FetchPolicy)
    timeout_s: float = DEFAULT_TIMEOUT_S  # per request to Triton
    default_model: str = DEFAULT_MODEL  # when a request names none (remove.bg's never do)
    retry_after_s: int = 1  # told to callers turned away for capacity
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)  # Triton down: refuse at once
    reresolve_s: float = DEFAULT_RERESOLVE_S  # a dns: Triton target is resolved again this often

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_pixels", "concurrency", "memory_budget_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected ≥ 1, got {getattr(self, name)}")
        if self.queue < 0:
            raise ValueError(f"queue: expected ≥ 0, got {self.queue}")
