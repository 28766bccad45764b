"""gRPC targets with several Triton replicas, balanced by gRPC itself.

``host:port`` is one server. ``ipv4:h1:p1,h2:p2`` (or ``ipv6:``) lists several and
``dns:///name:port`` resolves a name (a Kubernetes headless Service) to all its addresses;
for those, the channel balances round-robin over the replicas gRPC sees as healthy.
"""

from __future__ import annotations

import json

INT32_MAX = 2**31 - 1
BALANCED_SCHEMES = ("ipv4:", "ipv6:", "dns:")
SERVICE_CONFIG = {
    "loadBalancingConfig": [{"round_robin": {}}],
    # gRPC's client-side health checking (grpc.health.v1); a server without that service is
    # treated as healthy, so this only ever helps
    "healthCheckConfig": {"serviceName": ""},
}


def is_balanced(target: str) -> bool:
    return target.startswith(BALANCED_SCHEMES) or "," in target


def grpc_target(target: str) -> str:
    """``h1:p1,h2:p2`` -> ``ipv4:h1:p1,h2:p2`` (gRPC's spelling); others unchanged."""
    if "," in target and not target.startswith(BALANCED_SCHEMES):
        return f"ipv4:{target}"
    return target


def channel_args() -> list[tuple[str, object]]:
    """Round-robin with health checks, and back what tritonclient's defaults gave: messages
    of any size (its defaults are replaced as soon as channel arguments are passed)."""
    return [
        ("grpc.max_send_message_length", INT32_MAX),
        ("grpc.max_receive_message_length", INT32_MAX),
        ("grpc.lb_policy_name", "round_robin"),
        ("grpc.service_config", json.dumps(SERVICE_CONFIG)),
        ("grpc.enable_retries", 0),  # our retry rules (u2net.retry) decide, once
    ]


def addresses(target: str) -> list[str] | None:
    """Each replica's own ``host:port`` for a listed target; None for ``dns:`` (only the
    resolver knows them) and the target itself for a single server."""
    if target.startswith("dns:"):
        return None
    listed = target.split(":", 1)[1] if target.startswith(("ipv4:", "ipv6:")) else target
    return [a.strip() for a in listed.split(",") if a.strip()]
