"""``python -m doctor``: options, then diagnose, render, exit (``python -m server doctor`` runs
this too)."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from u2net import cli as edge
from u2net.deployment import DEFAULT_URL, URL_ENV, default_url
from u2net.repository.layout import default_repository

PROG = "python -m doctor"
DESCRIPTION = (
    "Check host, packages, model repository and a running server: is the GPU used? "
    "One line per check: ✓ ok, ✗ wrong (with the fix), – not applicable. Exit 1 when "
    "something blocks the chosen deployment (cpu or gpu)."
)


def build_parser() -> argparse.ArgumentParser:
    parser = edge.make_parser(PROG, DESCRIPTION)
    parser.add_argument(
        "--url", default=None, help=f"Triton gRPC address (default: ${URL_ENV} or {DEFAULT_URL})"
    )
    parser.add_argument(
        "--model-repository", type=Path, default=default_repository(), help="model repository"
    )
    parser.add_argument(
        "--deployment",
        choices=("auto", "cpu", "gpu"),
        default="auto",
        help="what must work: auto is gpu where nvidia-smi is installed, else cpu",
    )
    parser.add_argument(
        "--metrics-url", default=None, help="Triton metrics address (default: --url's host:8002)"
    )
    parser.add_argument("--web-url", default=None, help="an HTTP gateway to check (/readyz)")
    parser.add_argument("--json", action="store_true", help="the checks as a JSON list")
    parser.add_argument(
        "--probe-runs", type=edge.positive_int, default=3, help="timed inferences per model"
    )
    parser.add_argument(
        "--timeout", type=edge.positive_float, default=5.0, help="seconds per server call"
    )
    edge.add_verbosity(parser, quiet=False)
    return parser


def run(args: argparse.Namespace) -> int:
    """Only this function prints the report."""
    from doctor.diagnose import Options, diagnose
    from doctor.report import exit_code, render_json, render_text

    options = Options(
        url=args.url or default_url(),
        url_given=bool(args.url or os.environ.get(URL_ENV)),
        repository=args.model_repository,
        deployment=args.deployment,
        metrics_url=args.metrics_url,
        web_url=args.web_url,
        probe_runs=args.probe_runs,
        timeout_s=args.timeout,
    )
    deployment, checks = diagnose(options)
    print(render_json(checks) if args.json else render_text(checks, deployment), flush=True)
    return exit_code(checks)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    edge.setup_logging(edge.log_level(args, default=logging.WARNING), prefix="doctor: ")
    return edge.run_handler(lambda: run(args), parser)
