"""Serve the real app with uvicorn on a free loopback port, in a thread of the test process."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from server.launch import free_ports
from tests.waiting import until
from web.app import create_app
from web.config import KEEP_ALIVE_S, WebConfig

MODEL = "u2netp"  # the session's Triton serves u2netp_onnx and cutout


@dataclasses.dataclass
class Served:
    url: str
    config: WebConfig
    server: uvicorn.Server

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120, **kwargs)  # type: ignore[arg-type]


@contextmanager
def serve(config: WebConfig) -> Iterator[Served]:
    """uvicorn serving ``create_app(config)`` on 127.0.0.1 (a free port) until the block ends."""
    (port,) = free_ports(1)
    config = dataclasses.replace(config, host="127.0.0.1", port=port)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host="127.0.0.1",
            port=port,
            log_config=None,
            timeout_keep_alive=KEEP_ALIVE_S,  # as python -m web's
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield Served(f"http://127.0.0.1:{port}", config, server)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def until_models_learned(client: httpx.Client, timeout_s: float = 30.0) -> dict:
    """``/readyz``'s ``triton`` once the watcher's probe (every 2 s) has listed the loaded
    models: until then the gateway cannot refuse a model Triton lacks as bad input."""

    def triton() -> dict:
        return client.get("/readyz").json()["triton"]

    until(lambda: "models" in triton(), "the loaded models in /readyz", timeout_s)
    return triton()


def config_for(triton_url: str, **overrides: object) -> WebConfig:
    return WebConfig(triton_url=triton_url, default_model=MODEL, **overrides)  # type: ignore[arg-type]
