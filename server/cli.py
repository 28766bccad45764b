"""``python -m server``: serve model_repository/ with the embedded Triton 2.51 on this host.

``python -m server doctor [options]`` runs ``python -m doctor [options]`` (an alias: the doctor sits
above server, which never imports it)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from server import backend_dir, command, distribution, models, shm
from server.process import TritonProcess, check_ports
from u2net import cli as edge
from u2net.errors import ServerStartError
from u2net.memory import MB
from u2net.repository.layout import CPU_CONFIG_NAME, default_repository

logger = logging.getLogger(__name__)

READY_TIMEOUT_S = 300.0
DOCTOR = "doctor"
LOOPBACK = "127.0.0.1"
DEFAULT_PORTS = {"grpc": 8001, "http": 8000, "metrics": 8002}


def _names(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected model names like u2netp_onnx, got {text!r}")
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = edge.make_parser("python -m server", __doc__)
    parser.add_argument(
        "--model-repository",
        type=Path,
        default=default_repository(),
        help="Triton model repository",
    )
    for service, port in DEFAULT_PORTS.items():
        parser.add_argument(
            f"--{service}-port", type=edge.port, default=port, help=f"{service} port"
        )
    parser.add_argument(
        "--host",
        default=LOOPBACK,
        help="address to bind; binding other interfaces (0.0.0.0) is an explicit choice",
    )
    parser.add_argument(
        "--models",
        type=_names,
        default=None,
        help="comma-separated served names (u2netp_onnx) or base names (u2netp: its variants); "
        "default: every staged model that can run here",
    )
    parser.add_argument(
        "--allow-model-control",
        action="store_true",
        help="let clients load/unload models through the repository API (off by default); "
        f"its key comes from ${command.ADMIN_KEY_ENV} or --admin-key-file",
    )
    parser.add_argument(
        "--admin-key-file",
        type=Path,
        help="file whose first line is the repository API's key (with --allow-model-control)",
    )
    parser.add_argument(
        "--model-config-name",
        default=command.AUTO_CONFIG,
        help="Triton's custom model configuration (<model>/configs/<name>.pbtxt, where a "
        f"model has it); `{command.DEFAULT_CONFIG}` uses config.pbtxt, the GPU host's "
        f"configuration; `{command.AUTO_CONFIG}`: `{CPU_CONFIG_NAME}`, or "
        f"`{command.DEFAULT_CONFIG}` when ONNX Runtime offers CUDA here",
    )
    parser.add_argument(
        "--response-cache-mb",
        type=edge.non_negative_int,
        default=0,
        metavar="MB",
        help="answer an image the U²-Net models have already seen from Triton's response "
        "cache of this size (a mask takes about 100 KB; 0, the default: no cache). `cutout` "
        "is not cached, but the masks it asks for are",
    )
    parser.add_argument(
        "--ready-timeout", type=edge.positive_float, default=READY_TIMEOUT_S, help=argparse.SUPPRESS
    )
    edge.add_verbosity(parser)
    subparsers = edge.add_subparsers(parser, required=False)
    edge.add_subcommand(
        subparsers,
        DOCTOR,
        "check host, packages, model repository and a running server (`python -m doctor`)",
        description="Runs `python -m doctor` with the options that follow; "
        "`python -m doctor --help` lists them.",
        add_help=False,
    )
    return parser


def read_admin_key(args: argparse.Namespace) -> str | None:
    """``--admin-key-file`` (first line), else ``$U2NET_ADMIN_KEY``; never from argv."""
    if args.admin_key_file is not None:
        try:
            key = args.admin_key_file.read_text().strip().splitlines()[0].strip()
        except (OSError, IndexError) as e:
            raise ServerStartError(
                f"--admin-key-file {args.admin_key_file}: expected a file with the key on its "
                f"first line, got {getattr(e, 'strerror', None) or 'an empty file'}"
            ) from e
        return key or None
    return os.environ.get(command.ADMIN_KEY_ENV) or None


def onnxruntime_offers_cuda() -> bool:
    """Asked in a child process: this launcher stays small (it lives as long as Triton)."""
    probe = "import onnxruntime as o; print('CUDAExecutionProvider' in o.get_available_providers())"
    try:
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.stdout.strip() == "True"  # no onnxruntime: the ONNX models are skipped anyway


def _config_name(requested: str) -> str | None:
    chosen = command.choose_config(
        requested, requested == command.AUTO_CONFIG and onnxruntime_offers_cuda()
    )
    logger.info("model configuration: %s", chosen or f"{command.DEFAULT_CONFIG} (config.pbtxt)")
    return chosen


def serve_settings(args: argparse.Namespace) -> command.ServeSettings:
    key = read_admin_key(args) if args.allow_model_control else None
    if args.allow_model_control and key is None:
        logger.warning(
            "--allow-model-control without a key: any client that reaches the ports can "
            "load and unload models (set $%s or --admin-key-file)",
            command.ADMIN_KEY_ENV,
        )
    return command.ServeSettings(
        host=args.host,
        grpc_port=args.grpc_port,
        http_port=args.http_port,
        metrics_port=args.metrics_port,
        model_control=args.allow_model_control,
        admin_key=key,
        verbose=args.verbose,
        config_name=_config_name(args.model_config_name),
        response_cache_bytes=args.response_cache_mb * MB,
    )


class StopSignals:
    """SIGINT and SIGTERM stop the server gracefully; Ctrl-C then exits 130, SIGTERM 0."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.exit_code = 0
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        logger.info("received %s", signal.Signals(signum).name)
        if signum == signal.SIGINT:
            self.exit_code = edge.EXIT_INTERRUPTED
        self.event.set()


def _serve(args: argparse.Namespace) -> int:
    repository: Path = args.model_repository
    if not repository.is_dir():
        raise ServerStartError(
            f"model repository {repository} does not exist; run `{models.CONVERT_HINT}` first"
        )
    dist = distribution.locate()
    distribution.check_libraries(dist)
    names = models.select(models.scan(repository), backend_dir.available_backends(), args.models)
    check_ports(
        args.host, {"grpc": args.grpc_port, "http": args.http_port, "metrics": args.metrics_port}
    )

    stop = StopSignals()
    settings = serve_settings(args)
    with tempfile.TemporaryDirectory(prefix="u2net-triton-") as tmp:
        backends = backend_dir.assemble(dist, Path(tmp))
        served = repository
        if not settings.model_control:
            served = command.link_repository(Path(tmp) / "repository", repository, names)
        argv = command.triton_command(
            dist.binary, settings, served, backends, names, caches=dist.caches
        )
        shown = command.shown(argv, settings)
        shm.remove_stale()
        triton = TritonProcess(argv, dist.environment(), echo=args.verbose, shown=shown)
        try:
            poll_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
            http_base = f"http://{poll_host}:{args.http_port}"
            if not triton.wait_ready(http_base, names, args.ready_timeout, stop.event):
                return stop.exit_code
            print(
                f"ready: grpc {args.host}:{args.grpc_port} http {args.host}:{args.http_port} "
                f"metrics {args.host}:{args.metrics_port} models: {', '.join(sorted(names))}",
                flush=True,
            )
            while not stop.event.wait(0.5):
                if not triton.alive():
                    raise ServerStartError(triton.failure())
            return stop.exit_code
        finally:
            triton.stop()
            shm.remove_own()


def doctor_command(args: argparse.Namespace, rest: Sequence[str]) -> list[str]:
    """``python -m doctor`` with what followed ``doctor`` (and a ``-v`` given before it)."""
    verbose = ["-v"] if args.verbose else []
    return [sys.executable, "-m", DOCTOR, *verbose, *rest]


def run_doctor(args: argparse.Namespace, rest: Sequence[str]) -> int:
    """The alias: the doctor in a child process, its exit code passed through."""
    try:
        return subprocess.run(doctor_command(args, rest), check=False).returncode
    except KeyboardInterrupt:  # the child got the same Ctrl-C and stops itself
        return edge.EXIT_INTERRUPTED


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == DOCTOR:
        return run_doctor(args, rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    edge.setup_logging(edge.log_level(args), prefix="server: ")
    return edge.run_handler(lambda: _serve(args), parser)
