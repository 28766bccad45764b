"""Argument groups of the CLIs, each of which adds its own flags and turns what was parsed into
the settings it stands for (Polygraphy's ``tools/args``): :class:`ModelArgs` -> the model's
name, :class:`LinkArgs` -> :class:`LinkSettings`, :class:`OutputArgs` -> OutputOptions.
``python -m client``'s subcommands and ``python -m web`` share them.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.breaker import Breaker, BreakerPolicy
from client.cutter import DEFAULT_CONCURRENCY
from client.inputs import output_format
from client.retry import RetryPolicy
from client.targets import DEFAULT_RERESOLVE_S
from client.triton import DEFAULT_TIMEOUT_S
from u2net import cli as edge
from u2net.catalogue import DEFAULT_MODEL, model_help, rembg_custom_hint
from u2net.deployment import URL_ENV, default_url
from u2net.errors import OptionError, UsageError
from u2net.image.io import DEFAULT_MAX_PIXELS
from u2net.options import (
    BG_IMAGE,
    COLOR,
    FLAG,
    OPTIONS,
    UPLOAD,
    Option,
    OutputOptions,
    build_options,
    default_of,
)

FORMAT_FIELD = "fmt"  # its default is the output's suffix (client.inputs.output_format)
COLOR_PARTS = ("R", "G", "B", "A")  # rembg's -bgc: four numbers


def checked(row: Option) -> Callable[[str], object]:
    """An argparse type that parses as the option does: "expected X, got Y" at parse time."""

    def parse(text: str) -> object:
        try:
            return row.parse(row.flag, text)
        except OptionError as e:
            message = str(e).removeprefix(f"{row.flag}: ")
            raise argparse.ArgumentTypeError(message) from e

    parse.__name__ = row.name  # argparse names the type in its own messages
    return parse


def _range(row: Option) -> str | None:
    return f"{row.low}-{row.high}" if row.low is not None and row.high is not None else None


class OutputArgs:
    """Every output option's flag (u2net.options.OPTIONS): ``--NAME`` with rembg's short
    spelling beside it (``-om``), the option's help, range and default. ``photos=False``
    leaves out framing and scene (a video's frames keep their size and place)."""

    def __init__(self, photos: bool = True) -> None:
        self.photos = photos

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group(
            "output", "what is computed and how it is written (the cutout model's parameters)"
        )
        for row in OPTIONS:
            if self.photos or not row.photos_only:
                _add_flag(group, row)

    def parse(self, args: argparse.Namespace, output: Path | None) -> OutputOptions:
        """The flags as options; the format defaults to ``output``'s suffix, impossible
        combinations are usage errors."""
        requested = getattr(args, option_name(FORMAT_FIELD))
        values = {**vars(args), option_name(FORMAT_FIELD): output_format(requested, output)}
        background = getattr(args, BG_IMAGE, None)
        if background is not None:
            values[BG_IMAGE] = read_background(background)
        try:
            return build_options(values, {row.name: row.field for row in OPTIONS})
        except OptionError as e:
            raise UsageError(str(e)) from e


def option_name(field: str) -> str:
    return next(row.name for row in OPTIONS if row.field == field)


def _add_flag(group: argparse._ArgumentGroup, row: Option) -> None:
    text = row.help.replace("%", "%%")
    short = [f"-{row.rembg}"] if row.rembg and row.kind is not COLOR else []
    if row.kind is FLAG and default_of(row):
        flag = f"--no-{row.flag.removeprefix('--')}"
        group.add_argument(
            flag, dest=row.name, action="store_const", const=False, help=f"turn off: {text}"
        )
    elif row.kind is FLAG:
        group.add_argument(*short, row.flag, dest=row.name, action="store_true", help=text)
    elif row.kind is UPLOAD:
        group.add_argument(row.flag, dest=row.name, type=Path, metavar=row.metavar, help=text)
    elif row.choices:
        suffix = row.field == FORMAT_FIELD
        default = None if suffix else default_of(row)
        text += "; default: from -o's suffix, else png" if suffix else ""
        group.add_argument(row.flag, dest=row.name, choices=row.choices, default=default, help=text)
    else:
        metavar = row.metavar or _range(row)
        group.add_argument(
            *short, row.flag, dest=row.name, type=checked(row), default=default_of(row),
            metavar=metavar, help=text,
        )  # fmt: skip
    if row.kind is COLOR and row.rembg:
        group.add_argument(
            f"-{row.rembg}", dest=row.name, nargs=len(COLOR_PARTS), type=edge.byte,
            action=edge.StoreTuple, metavar=COLOR_PARTS,
            help=f"rembg's spelling of {row.flag}: four numbers 0..255",
        )  # fmt: skip


def read_background(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UsageError(f"--bg-image {path}: cannot read: {e.strerror or e}") from e
    if not data:
        raise UsageError(f"--bg-image {path}: expected an image, got 0 bytes")
    return data


# --- the model ------------------------------------------------------------------------------


def json_object(text: str) -> dict:
    """rembg's ``-x``: a JSON object."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r} ({e})") from e
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


class ModelArgs:
    """``-m/--model`` and rembg's ``-x/--extras``, which here only says how to stage a custom
    model (rembg's u2net_custom and dis_custom sessions)."""

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "-m",
            "--model",
            default=DEFAULT_MODEL,
            help=f"a base name (_trt if ready, else _onnx) or a served name: {model_help()}; "
            "a custom model by its name (python -m convert custom)",
        )
        parser.add_argument(
            "-x",
            "--extras",
            type=json_object,
            default={},
            metavar="JSON",
            help="rembg's extra session arguments: with -m u2net_custom or dis_custom, "
            "'{\"model_path\": FILE}' says how to stage FILE here",
        )

    def parse(self, args: argparse.Namespace) -> str:
        """The model's name (see :func:`check_model`)."""
        check_model(args.model, args.extras)
        return args.model


def check_model(model: str, extras: dict | None = None) -> None:
    """rembg's custom sessions and ``-x`` as usage errors that say what to do here."""
    hint = rembg_custom_hint(model, extras or {})
    if hint is not None:
        raise UsageError(hint)
    if extras:
        keys = ", ".join(sorted(extras))
        raise UsageError(
            f"-x: expected it only with -m u2net_custom or dis_custom (model_path), got {keys}"
            f" with -m {model}"
        )


# --- the link to Triton ---------------------------------------------------------------------


@dataclass(frozen=True)
class LinkSettings:
    """What :class:`LinkArgs`' flags set: where Triton is and how requests to it behave."""

    url: str | None
    timeout_s: float
    max_pixels: int
    concurrency: int
    retry: RetryPolicy = RetryPolicy()
    breaker: BreakerPolicy = BreakerPolicy()
    reresolve_s: float = DEFAULT_RERESOLVE_S

    def link(self) -> dict[str, Any]:
        """The link's keywords for Cutter and the other clients (a breaker of its own)."""
        return {
            "timeout_s": self.timeout_s,
            "retry": self.retry,
            "breaker": Breaker(self.breaker),
            "reresolve_s": self.reresolve_s,
        }


@dataclass(frozen=True)
class LinkDefaults:
    """A program's defaults for :class:`LinkArgs`' flags."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    max_pixels: int = DEFAULT_MAX_PIXELS
    concurrency: int = DEFAULT_CONCURRENCY


class LinkArgs:
    """``--timeout`` and ``--max-pixels``; each of the others where the program has it: ``--url``,
    ``--concurrency``, ``--retries`` with ``--outage-grace``, ``--reresolve-interval``."""

    def __init__(
        self,
        *,
        url: bool = True,
        concurrency: bool = True,
        retries: bool = True,
        reresolve: bool = True,
        defaults: LinkDefaults = LinkDefaults(),
    ) -> None:
        self.url, self.concurrency, self.retries = url, concurrency, retries
        self.reresolve, self.defaults = reresolve, defaults

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        if self.url:
            parser.add_argument(
                "--url",
                default=default_url(),
                help=f"Triton gRPC address; several replicas: ipv4:HOST:PORT,HOST:PORT or "
                f"dns:///NAME:PORT, balanced round-robin (${URL_ENV} overrides)",
            )
        parser.add_argument(
            "--timeout",
            type=edge.positive_float,
            default=self.defaults.timeout_s,
            help="seconds per request to Triton, all its retries included",
        )
        parser.add_argument(
            "--max-pixels",
            type=edge.positive_int,
            default=self.defaults.max_pixels,
            help="refuse larger images, read from their header before decoding",
        )
        if self.concurrency:
            parser.add_argument(
                "--concurrency",
                type=edge.positive_int,
                default=self.defaults.concurrency,
                help="requests in flight to Triton",
            )
        if self.retries:
            self._add_retries(parser)
        if self.reresolve:
            parser.add_argument(
                "--reresolve-interval",
                type=edge.positive_float,
                default=DEFAULT_RERESOLVE_S,
                metavar="S",
                help="a dns: address is resolved again this often, to reach replicas added since",
            )

    @staticmethod
    def _add_retries(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--retries",
            type=edge.non_negative_int,
            default=None,
            help="at most this many retries when the server is unreachable or restarting "
            "(0: none; default: as many as --timeout allows, with jittered backoff)",
        )
        parser.add_argument(
            "--outage-grace",
            type=edge.positive_float,
            default=None,
            metavar="S",
            help="a server failing for longer than this is judged gone: what is not yet sent "
            "is not processed (default: --timeout)",
        )

    def parse(self, args: argparse.Namespace) -> LinkSettings:
        grace = getattr(args, "outage_grace", None) or args.timeout
        return LinkSettings(
            url=getattr(args, "url", None),
            timeout_s=args.timeout,
            max_pixels=args.max_pixels,
            concurrency=getattr(args, "concurrency", self.defaults.concurrency),
            retry=RetryPolicy(retries=getattr(args, "retries", None)),
            breaker=BreakerPolicy(grace_s=grace),
            reresolve_s=getattr(args, "reresolve_interval", DEFAULT_RERESOLVE_S),
        )
