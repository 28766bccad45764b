"""Argument groups of the CLIs, each of which adds its own flags and turns what was parsed into
the settings it stands for (Polygraphy's ``tools/args``): :class:`OutputArgs` -> OutputOptions.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from client.inputs import output_format
from u2net import cli as edge
from u2net.errors import OptionError, UsageError
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
