"""gRPC targets with several Triton replicas, balanced by gRPC itself.

``host:port`` is one server. ``ipv4:h1:p1,h2:p2`` (or ``ipv6:``) lists several and
``dns:///name:port`` resolves a name (a Kubernetes headless Service) to all its addresses;
for those, the client's channel (``client.triton.channel_options``) balances round-robin
over the replicas gRPC sees as healthy, and a ``dns:`` name is resolved again every
:data:`DEFAULT_RERESOLVE_S` (``client.channels``).
"""

from __future__ import annotations

BALANCED_SCHEMES = ("ipv4:", "ipv6:", "dns:")
# how often a client resolves a ``dns:`` target again, to see replicas added since
# (client.channels: gRPC itself resolves only when a connection breaks)
DEFAULT_RERESOLVE_S = 30.0


def is_balanced(target: str) -> bool:
    return target.startswith(BALANCED_SCHEMES) or "," in target


def resolves(target: str) -> bool:
    """Does this target name its replicas through DNS (so they can change)?"""
    return target.startswith("dns:")


def grpc_target(target: str) -> str:
    """``h1:p1,h2:p2`` -> ``ipv4:h1:p1,h2:p2`` (gRPC's spelling); others unchanged."""
    if "," in target and not target.startswith(BALANCED_SCHEMES):
        return f"ipv4:{target}"
    return target


def addresses(target: str) -> list[str] | None:
    """Each replica's own ``host:port`` for a listed target; None for ``dns:`` (only the
    resolver knows them) and the target itself for a single server."""
    if target.startswith("dns:"):
        return None
    listed = target.split(":", 1)[1] if target.startswith(("ipv4:", "ipv6:")) else target
    return [a.strip() for a in listed.split(",") if a.strip()]
