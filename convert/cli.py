"""``python -m convert``: fetch, check and stage the U²-Net serving graphs."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path

from client.cli_support import run_handler, setup_logging
from client.errors import ServingError
from convert.check import check_source
from convert.fetch import fetch
from convert.known_models import KNOWN_MODELS, KnownModel, parse_models
from convert.model_config import all_variants, to_file
from convert.stage import DEFAULT_REPOSITORY, stage_onnx
from convert.trt_profile import DEFAULT_OPT_BATCH, DEFAULT_WORKSPACE_GB, PRECISIONS, BuildSettings
from convert.trt_stage import stage_trt

log = logging.getLogger("convert")
DEFAULT_MODELS = ",".join(KNOWN_MODELS)


def _models(text: str) -> list[KnownModel]:
    try:
        return parse_models(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    """An argparse type: ``kind(text)`` that must be > 0."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from e
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m convert",
        description="Fetch rembg's U²-Net ONNX files, check them and stage Triton's serving "
        "graphs. Without a subcommand: fetch -> check -> stage into the model repository.",
    )
    parser.add_argument(
        "--models",
        type=_models,
        default=DEFAULT_MODELS,
        help=f"comma-separated (default: {DEFAULT_MODELS})",
    )
    parser.add_argument(
        "--repository",
        type=Path,
        default=DEFAULT_REPOSITORY,
        help="Triton model repository (default: %(default)s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("-q", "--quiet", action="store_true")
    sub = parser.add_subparsers(dest="command")

    p_fetch = sub.add_parser("fetch", help="get the model files into $U2NET_HOME (~/.u2net)")
    p_fetch.add_argument("--models", type=_models, default=argparse.SUPPRESS)
    p_fetch.add_argument("--path", type=Path, help="use this local copy (md5-checked) first")

    p_check = sub.add_parser("check", help="validate an ONNX file")
    p_check.add_argument("file", type=Path)

    sub.add_parser("configs", help="rewrite every config.pbtxt from convert/model_config.py")

    p_trt = sub.add_parser(
        "trt",
        help="build, verify and stage TensorRT engines (<model>_trt/1/model.plan); needs a GPU",
        description="Build a TensorRT plan from each staged serving ONNX, check it against "
        "ONNX Runtime on real photos and stage it. The batch profile's max is read from "
        "<model>_trt/config.pbtxt.",
    )
    p_trt.add_argument("--models", type=_models, default=argparse.SUPPRESS)
    p_trt.add_argument("--repository", type=Path, default=argparse.SUPPRESS)
    p_trt.add_argument(
        "--opt-batch",
        type=_positive(int),
        default=DEFAULT_OPT_BATCH,
        help="batch size TensorRT tunes for (default: %(default)s)",
    )
    p_trt.add_argument("--precision", choices=PRECISIONS, default="fp16")
    p_trt.add_argument(
        "--workspace-gb",
        type=_positive(float),
        default=DEFAULT_WORKSPACE_GB,
        help="builder workspace limit in GiB (default: %(default)s)",
    )
    p_trt.add_argument(
        "--force",
        action="store_true",
        help="rebuild even if up to date, and stage even if verification fails",
    )
    return parser


def cmd_stage(args: argparse.Namespace) -> int:
    for model in args.models:
        stage_onnx(model, args.repository)
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    if args.path is not None and len(args.models) != 1:
        raise ServingError("--path names one file; pass one model with it, e.g. --models u2netp")
    for model in args.models:
        print(fetch(model, path=args.path))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    report = check_source(args.file)
    print(f"{args.file}:")
    print("\n".join(report.lines))
    print("fine: this is a U²-Net the serving graph can be built from")
    return 0


def cmd_configs(args: argparse.Namespace) -> int:
    for variant in all_variants():
        print(to_file(variant.get_config(), args.repository))
    return 0


def cmd_trt(args: argparse.Namespace) -> int:
    settings = BuildSettings(args.precision, args.opt_batch, args.workspace_gb)
    for model in args.models:
        print(stage_trt(model, args.repository, settings, force=args.force))
    return 0


COMMANDS = {
    None: cmd_stage,
    "fetch": cmd_fetch,
    "check": cmd_check,
    "configs": cmd_configs,
    "trt": cmd_trt,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(
        logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    )
    return run_handler(lambda: COMMANDS[args.command](args))
