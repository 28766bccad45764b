"""``python -m web``: the HTTP gateway (rembg's and remove.bg's APIs, the web UI).

Loopback by default; binding any other address needs ``--api-keys-file`` (or an explicit
``--no-auth``). Without ``--triton-url`` it starts the embedded Triton itself. Prints one
``ready: http://HOST:PORT`` line once the gateway listens and Triton's ``cutout`` is ready.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import uvicorn

from client.args import LinkArgs, LinkDefaults
from client.breaker import DEFAULT_GRACE_S, DEFAULT_PROBE_INTERVAL_S, BreakerPolicy
from u2net.catalogue import DEFAULT_MODEL
from u2net.cli import (
    add_verbosity,
    log_level,
    make_parser,
    non_negative_int,
    port,
    positive_float,
    positive_int,
    run_handler,
    setup_logging,
)
from web import config as defaults
from web.app import create_app
from web.auth import load_api_keys
from web.config import MB, FetchPolicy, WebConfig
from web.embedded import embedded_triton
from web.errors import ConfigError

log = logging.getLogger(__name__)

READY_POLL_S = 0.5
# --timeout, --max-pixels, --concurrency and --reresolve-interval, as the client's; the
# gateway's own --triton-url and --outage-grace (its breaker answers 503 at once)
LINK = LinkArgs(
    url=False,
    retries=False,
    defaults=LinkDefaults(
        timeout_s=defaults.DEFAULT_TIMEOUT_S,
        max_pixels=defaults.DEFAULT_MAX_PIXELS,
        concurrency=defaults.DEFAULT_CONCURRENCY,
    ),
)


def build_parser() -> argparse.ArgumentParser:
    p = make_parser("python -m web", __doc__.splitlines()[0])
    p.add_argument("--host", default=defaults.DEFAULT_HOST, help="address to listen on")
    p.add_argument("--port", type=port, default=defaults.DEFAULT_PORT, help="port (rembg's)")
    p.add_argument("--triton-url", help="Triton's gRPC address (default: start the embedded one)")
    p.add_argument("--api-keys-file", type=Path, help="accepted X-Api-Key values, one per line")
    p.add_argument(
        "--no-auth", action="store_true", help="allow a non-loopback --host without keys"
    )
    p.add_argument("--max-upload-mb", type=positive_float, default=defaults.DEFAULT_MAX_UPLOAD_MB,
                   help="largest upload; larger ones get 413 while streaming")  # fmt: skip
    p.add_argument("--queue", type=non_negative_int, default=defaults.DEFAULT_QUEUE,
                   help="requests waiting beyond --concurrency; more get 503 at once")  # fmt: skip
    p.add_argument("--memory-budget-mb", type=positive_int, metavar="MB",
                   default=os.environ.get(defaults.MEMORY_BUDGET_ENV,
                                          str(defaults.DEFAULT_MEMORY_BUDGET_MB)),
                   help="what the cuts in flight may hold in Triton at once, each weighed by "
                   "its photo's pixels and options: more waits, one that never fits gets 413 "
                   f"(${defaults.MEMORY_BUDGET_ENV} sets the default)")  # fmt: skip
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="allow this browser origin (repeatable; none by default)")  # fmt: skip
    p.add_argument("--allow-url-fetch", action="store_true",
                   help="let GET /api/remove?url= and image_url fetch public URLs")  # fmt: skip
    p.add_argument("--default-model", default=DEFAULT_MODEL,
                   help="model for requests naming none (remove.bg's API never does)")  # fmt: skip
    p.add_argument("--triton-start-timeout", type=positive_float, default=300.0,
                   help="seconds to wait for the embedded Triton")  # fmt: skip
    p.add_argument("--outage-grace", type=positive_float, default=DEFAULT_GRACE_S, metavar="S",
                   help="Triton failing for longer than this (a restart takes less) opens the "
                   "breaker: 503 + Retry-After at once")  # fmt: skip
    p.add_argument("--probe-interval", type=positive_float, default=DEFAULT_PROBE_INTERVAL_S,
                   metavar="S", help="how often Triton is probed; the breaker closes on the "
                   "first probe that finds it back")  # fmt: skip
    LINK.add_to(p)
    add_verbosity(p)
    return p


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, keys: frozenset[str], no_auth: bool) -> None:
    """Refuse to listen beyond loopback without keys, unless told to (then warn)."""
    if is_loopback(host) or keys:
        return
    if not no_auth:
        raise ConfigError(
            f"refusing to listen on {host} without --api-keys-file: anyone who can reach it "
            "could use it (give keys, or --no-auth to allow it anyway)"
        )
    log.warning(
        "listening on %s with no API keys (--no-auth): anyone who can reach it may use it", host
    )


def listen(host: str, port_number: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port_number))
    except OSError as e:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port_number}: {e.strerror or e}") from e
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def make_config(args: argparse.Namespace, triton_url: str, keys: frozenset[str]) -> WebConfig:
    link = LINK.parse(args)
    return WebConfig(
        triton_url=triton_url, host=args.host, port=args.port, api_keys=keys,
        max_upload_bytes=int(args.max_upload_mb * MB), max_pixels=link.max_pixels,
        concurrency=link.concurrency, queue=args.queue, cors_origins=tuple(args.cors_origin),
        memory_budget_bytes=args.memory_budget_mb * MB,
        fetch=FetchPolicy(enabled=args.allow_url_fetch), timeout_s=link.timeout_s,
        default_model=args.default_model,
        breaker=BreakerPolicy(grace_s=args.outage_grace, probe_interval_s=args.probe_interval),
        reresolve_s=link.reresolve_s,
    )  # fmt: skip


async def serve(config: WebConfig, sock: socket.socket, announce: Callable[[str], None]) -> None:
    """Run uvicorn on ``sock``; announce ``ready:`` once Triton's ``cutout`` answers ready."""
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_config=None,
            timeout_keep_alive=defaults.KEEP_ALIVE_S,
            timeout_graceful_shutdown=defaults.DRAIN_S,
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    triton, said = app.state.service.triton, None
    while server.started and not server.should_exit:
        reason = await triton.not_ready_reason()
        if reason is None:
            host, bound = sock.getsockname()[:2]
            announce(f"ready: http://{host if ':' not in host else f'[{host}]'}:{bound}")
            break
        if reason != said:
            log.info("waiting for Triton: %s", reason)
            said = reason
        await asyncio.sleep(READY_POLL_S)
    await task


@contextmanager
def sigterm_exits() -> Iterator[None]:
    """SIGTERM before or after uvicorn runs: leave through ``finally`` (the child Triton stops)."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def announce(line: str) -> None:
    print(line, flush=True)


def run(args: argparse.Namespace) -> int:
    keys = load_api_keys(args.api_keys_file) if args.api_keys_file else frozenset()
    check_exposure(args.host, keys, args.no_auth)
    sock = listen(args.host, args.port)
    with sigterm_exits():
        triton = (
            nullcontext(args.triton_url)
            if args.triton_url
            else embedded_triton(args.triton_start_timeout)
        )
        with sock, triton as url:
            asyncio.run(serve(make_config(args, url, keys), sock, announce))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(log_level(args))
    return run_handler(lambda: run(args), parser)


if __name__ == "__main__":
    sys.exit(main())
