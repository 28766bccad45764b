"""Prometheus metrics (``GET /metrics``): requests by route and status, latency, bytes in and
out, requests in flight to Triton, queue length, rejections and the circuit breaker's state.
One registry per app."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from client.breaker import State

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
UNMATCHED = "unmatched"  # any path no route serves: one label, not one per path


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "web_requests", "HTTP requests answered", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "web_request_duration_seconds",
            "time from request to the end of the response",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.bytes_in = Counter("web_request_body_bytes", "request body bytes read", registry=r)
        self.bytes_out = Counter("web_response_body_bytes", "response body bytes sent", registry=r)
        self.in_flight = Gauge("web_triton_in_flight", "requests in flight to Triton", registry=r)
        self.queued = Gauge("web_queue_length", "admitted requests waiting for Triton", registry=r)
        self.memory = Gauge(
            "web_memory_budget_held_bytes",
            "bytes of the memory budget held by cuts in flight (their estimated peaks)",
            registry=r,
        )
        self.rejections = Counter(
            "web_rejections",
            "requests the gateway refused: bad input, bad key, too large, over capacity",
            ["reason"],
            registry=r,
        )

        self.breaker = Enum(
            "web_triton_breaker",
            "the circuit breaker in front of Triton: closed (serving), open (Triton down, "
            "requests refused at once), half_open (a probe is out)",
            states=[s.value for s in State],
            registry=r,
        )
        self.breaker_changes = Counter(
            "web_triton_breaker_transitions",
            "times the breaker entered each state",
            ["state"],
            registry=r,
        )

    def breaker_changed(self, state: State) -> None:
        self.breaker.state(state.value)
        self.breaker_changes.labels(state.value).inc()

    def memory_changed(self, held: int) -> None:
        self.memory.set(held)

    def capacity_changed(self, in_flight: int, queued: int) -> None:
        self.in_flight.set(in_flight)
        self.queued.set(queued)


def route_label(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED


class MetricsMiddleware:
    """Outermost layer: sees every request, its body and its answer."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics, start, status = self.metrics, time.perf_counter(), 500

        async def counting_receive() -> Message:
            message = await receive()
            metrics.bytes_in.inc(len(message.get("body", b"")))
            return message

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                metrics.bytes_out.inc(len(message.get("body", b"")))
            await send(message)

        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            route = route_label(scope)
            metrics.requests.labels(route, scope["method"], str(status)).inc()
            metrics.latency.labels(route).observe(time.perf_counter() - start)
