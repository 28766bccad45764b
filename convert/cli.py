"""``python -m convert``: fetch, check and stage the U²-Net serving graphs."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from convert.check import check_source
from convert.custom import resolve_models, stage_custom
from convert.fetch import fetch
from convert.model_config import OnnxVariant, all_variants, write_configs
from convert.quantize.recipe import read_recipe
from convert.quantize.stage import stage_int8
from convert.stage import stage_onnx
from convert.trt.profile import (
    DEFAULT_WORKSPACE_GB,
    FAMILY_OPT_BATCH,
    PRECISIONS,
    BuildSettings,
)
from convert.trt.stage import stage_trt
from u2net import cli as edge
from u2net.agreement import CERTIFIED_COLUMNS, INT8_BAR, INT8_MIN_SPEEDUP
from u2net.catalogue import MODEL_NAMES, check_custom_name
from u2net.contract import FAMILY_CONTRACTS
from u2net.errors import OptionError, ServingError, UsageError
from u2net.report import table
from u2net.repository.layout import default_repository

log = logging.getLogger("convert")
DEFAULT_MODELS = ",".join(MODEL_NAMES)


def _add_selection(
    p: argparse.ArgumentParser, top: bool, custom: bool = False, models: bool = True
) -> None:
    """--models (unless ``models`` is False) and --model-repository, on the main parser and
    again after a subcommand (``custom``: custom models staged in the repository count too,
    resolved once it is known: the names stay a string until then)."""
    if models:
        p.add_argument(
            "--models",
            type=str if custom else edge.models,
            default=DEFAULT_MODELS if top else argparse.SUPPRESS,
            help="comma-separated base or served names, e.g. u2netp or u2netp_onnx"
            + (", or custom models staged with `python -m convert custom`" if custom else "")
            + (f" (default: {DEFAULT_MODELS})" if not top else ""),
        )
    p.add_argument(
        "--model-repository",
        type=Path,
        default=default_repository() if top else argparse.SUPPRESS,
        help="Triton model repository" + (f" (default: {default_repository()})" if not top else ""),
    )


def _add_trt(sub: object) -> None:
    p_trt = edge.add_subcommand(
        sub,
        "trt",
        "build, verify and stage TensorRT engines (<model>_trt/1/model.plan); needs a GPU",
        description="Build a TensorRT plan from each staged serving ONNX, check it against "
        "ONNX Runtime on real photos and stage it. The batch profile's max is read from "
        "<model>_trt/config.pbtxt (written at the model's size where it is missing).",
    )
    _add_selection(p_trt, top=False, custom=True)
    edge.add_verbosity(p_trt, subcommand=True)
    families = ", ".join(f"{size} for the {f} family" for f, size in FAMILY_OPT_BATCH.items())
    p_trt.add_argument(
        "--opt-batch",
        type=edge.positive_int,
        default=None,
        help=f"batch size TensorRT tunes for (default: {families})",
    )
    p_trt.add_argument("--precision", choices=PRECISIONS, default="fp16", help="engine precision")
    p_trt.add_argument(
        "--workspace-gb",
        type=edge.positive_float,
        default=DEFAULT_WORKSPACE_GB,
        help="builder workspace limit in GiB",
    )
    p_trt.add_argument(
        "--force",
        action="store_true",
        help="rebuild even if up to date, and stage even if verification fails",
    )
    p_trt.add_argument(
        "--fallback-fp32",
        action="store_true",
        help="when the fp16 engine fails to build or to verify, build fp32 instead "
        "(a rerun keeps that fp32 plan while it is current)",
    )


def _add_quantize(sub: object) -> None:
    p_q = edge.add_subcommand(
        sub,
        "quantize",
        "make the int8 variants (<model>_int8) from their recipes and stage the certified",
        description="Build each int8 variant from its recipe (convert/quantize/recipes/), "
        "certify it on held-out photos and stage it when certified: on every photo inside "
        f"fp32's own noise floor (IoU >= min({INT8_BAR.min_iou}, floor), mean |Δ| <= "
        f"max({INT8_BAR.max_mean_abs_diff:g}, floor)) and >= {INT8_MIN_SPEEDUP}x faster than "
        "fp32 per raw request. Prints each photo's agreement beside the floor (a current "
        "variant's as its manifest recorded it). --search calibrates, searches which blocks "
        "and then which of their convs stay fp32, and rewrites the recipe (minutes of CPU; "
        "cached under <model>_int8/quantize/). Exit 1 when a variant built is left unstaged; "
        "a model without a recipe is a note (docs/int8.md).",
    )
    _add_selection(p_q, top=False)
    edge.add_verbosity(p_q, subcommand=True)
    p_q.add_argument(
        "--force", action="store_true", help="stage a variant even when it misses the bar"
    )
    p_q.add_argument(
        "--search",
        action="store_true",
        help="derive the recipe again (blocks, then convs, on the search photos) and rewrite it "
        "before building; reuses the calibration and search cached under <model>_int8/quantize/ "
        "(delete them for a fresh one)",
    )


def _add_custom(sub: object) -> None:
    p = edge.add_subcommand(
        sub,
        "custom",
        "stage your own ONNX file of a model family as NAME_onnx (rembg's u2net_custom, "
        "dis_custom)",
        description="Check FILE against the family's contract (input size, sigmoid maps out, "
        "a real run), wrap it in the family's serving graph and stage it as NAME_onnx; then "
        "--model NAME picks it in every command, cutout and both HTTP APIs.",
    )
    p.add_argument("name", help="the model's name (letters, digits, - and _)")
    p.add_argument(
        "--family",
        required=True,
        choices=sorted(FAMILY_CONTRACTS),
        help="u2net: 320², ImageNet's mean and std (u2net_custom); isnet: 1024², mean 0.5, "
        "std 1 (dis_custom)",
    )
    p.add_argument("--source", type=Path, required=True, help="the .onnx file")
    _add_selection(p, top=False, models=False)
    edge.add_verbosity(p, subcommand=True)


def build_parser() -> argparse.ArgumentParser:
    parser = edge.make_parser(
        "python -m convert",
        "Fetch rembg's U²-Net ONNX files, check them and stage Triton's serving graphs. "
        "Without a subcommand: fetch -> check -> stage into the model repository.",
    )
    _add_selection(parser, top=True)
    edge.add_verbosity(parser)
    sub = edge.add_subparsers(parser, required=False)
    p_fetch = edge.add_subcommand(sub, "fetch", "get the model files into rembg's cache")
    _add_selection(p_fetch, top=False)
    edge.add_verbosity(p_fetch, subcommand=True)
    p_fetch.add_argument("--path", type=Path, help="use this local copy (md5-checked) first")
    p_check = edge.add_subcommand(sub, "check", "validate an ONNX file")
    p_check.add_argument("file", type=Path, help="the .onnx file")
    edge.add_verbosity(p_check, subcommand=True)
    p_configs = edge.add_subcommand(
        sub, "configs", "rewrite the config.pbtxt files of --models from convert/model_config.py"
    )
    _add_selection(p_configs, top=False)
    edge.add_verbosity(p_configs, subcommand=True)
    _add_custom(sub)
    _add_quantize(sub)
    _add_trt(sub)
    return parser


def cmd_stage(args: argparse.Namespace) -> int:
    """fp32 serving graphs, then each int8 variant that has a recipe (a variant that is not
    certified on this machine is reported and left out; fp32 serves alone)."""
    for model in args.models:
        stage_onnx(model, args.model_repository)
    for model in args.models:
        variant = OnnxVariant(model.name, int8=True).name
        try:
            if read_recipe(model.name) is not None:
                print(stage_int8(model, args.model_repository).line())
        except ServingError as e:  # fp32 is staged: the int8 variant is optional
            print(f"{variant}: not built: {e}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    if args.path is not None and len(args.models) != 1:
        raise UsageError("--path names one file; pass one model with it, e.g. --models u2netp")
    for model in args.models:
        print(fetch(model, path=args.path))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    report = check_source(args.file)
    print(f"{args.file}:")
    print("\n".join(report.lines))
    print("fine: this is a U²-Net the serving graph can be built from")
    return 0


def cmd_custom(args: argparse.Namespace) -> int:
    try:
        check_custom_name(args.name)
    except OptionError as e:
        raise UsageError(str(e)) from e
    staged = stage_custom(args.name, args.family, args.source, args.model_repository)
    print(f"{args.name}_onnx: staged {staged} ({args.family} family)")
    return 0


def cmd_configs(args: argparse.Namespace) -> int:
    for variant in all_variants(tuple(m.name for m in args.models)):
        for path in write_configs(variant, args.model_repository):
            print(path)
    return 0


def cmd_quantize(args: argparse.Namespace) -> int:
    outcomes = []
    for model in args.models:
        outcome = stage_int8(
            model, args.model_repository, force=args.force, search=args.search, remeasure=True
        )
        if outcome.certification is not None:
            print(f"{outcome.variant} against {model.name} fp32, per held-out photo:")
            print(table(list(CERTIFIED_COLUMNS), outcome.certification.rows()))
        print(outcome.line())
        outcomes.append(outcome)
    built = [o for o in outcomes if o.certification is not None]  # "no recipe" is a note
    return 0 if all(o.staged for o in built) else 1


def cmd_trt(args: argparse.Namespace) -> int:
    settings = BuildSettings(args.precision, args.opt_batch, args.workspace_gb)
    models = args.models  # parsed already when given before `trt`
    if isinstance(models, str):
        models = resolve_models(models, args.model_repository)
    for model in models:
        staged = stage_trt(
            model,
            args.model_repository,
            settings,
            force=args.force,
            fallback_fp32=args.fallback_fp32,
        )
        print(staged)
    return 0


COMMANDS = {
    None: cmd_stage,
    "fetch": cmd_fetch,
    "check": cmd_check,
    "configs": cmd_configs,
    "custom": cmd_custom,
    "quantize": cmd_quantize,
    "trt": cmd_trt,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    edge.setup_logging(edge.log_level(args))
    return edge.run_handler(lambda: COMMANDS[args.command](args), parser)
