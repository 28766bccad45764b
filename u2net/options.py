"""How a cut-out is rendered and encoded, and the one table of its options.

:data:`OPTIONS` declares each output option once: the field it sets, its name (the ``cutout``
model's request parameter, and the CLI's ``--flag``), how it is parsed and written back, its
range, rembg's spelling of it and its help. Everything that takes or shows options reads that
table: :func:`build_options` (callers' values under their own names), :func:`to_parameters` /
:func:`from_parameters` (the ``cutout`` contract), the CLIs' flags (``client.args``), rembg's
HTTP API and its OpenAPI schema (``web.rembg_params``, ``web.rembg_api``). The defaults are
:class:`OutputOptions`' own (:func:`default_of`).

Adding an option: a field of :class:`OutputOptions`, one row of :data:`OPTIONS`, and the code
that uses it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from u2net.catalogue import DEFAULT_MODEL
from u2net.errors import OptionError
from u2net.image.compositing import DEFAULT_MODE, EXPLANATIONS, MODES, Color
from u2net.image.matting import MattingOptions
from u2net.image.scene import CENTER, DEFAULT_SHADOW_OPACITY, Position, Roi
from u2net.values import (
    parse_bool,
    parse_choice,
    parse_int,
    parse_lengths,
    parse_percent,
    reject_unknown,
    shown,
)

DEFAULT_PNG_COMPRESSION = 1  # measured: docs/measurements.md, "Per-stage costs"
FORMATS = ("png", "webp", "jpg")
ParameterValue = bool | int | str

# request parameters of the ``cutout`` model that are not output options
MODEL = "model"
MAX_PIXELS = "max_pixels"  # may only lower the server's own limit
# the background photo's encoded bytes: the CLI's --bg-image, cutout's optional input tensor
# (u2net.contract.CUTOUT.background_name), never a request parameter
BG_IMAGE = "bg_image"
ALPHA_MATTING = "alpha_matting"  # the switch; its thresholds are MattingOptions' fields
POSITION = "position"
SCALE_PERCENT = (10, 100)  # remove.bg's scale: 10%..100% of the canvas, or original
POSITION_PERCENT = (0, 100)
THRESHOLD_RANGE = (0, 255)  # each of alpha matting's thresholds and its erosion
SHADOW_OPACITY_RANGE = (0, 100)  # percent
PNG_LEVELS = (0, 9)
ORIGINAL = "original"
CENTERED = "center"


@dataclass(frozen=True)
class OutputOptions:
    """How a cut-out is rendered and encoded. Each field is an option of :data:`OPTIONS`
    (matting's thresholds: of :class:`MattingOptions`), and its default here is the option's."""

    only_mask: bool = False
    bgcolor: Color | None = None
    composite: str = DEFAULT_MODE  # u2net.image.compositing's MODES: clean, rembg, straight
    post_process: bool = False  # rembg's --post-process-mask
    matting: MattingOptions | None = None  # rembg's -a
    fmt: str = "png"
    png_compression: int = DEFAULT_PNG_COMPRESSION
    crop: bool = False  # to the foreground's box
    crop_margin: int = 0  # pixels around the box when cropping
    max_output_pixels: int | None = None  # scale the result down to at most this many pixels
    roi: Roi | None = None  # only this region can be foreground (u2net.image.scene)
    semitransparency: bool = True  # False: every pixel opaque or clear
    scale: float | None = None  # the subject's box, a fraction of the canvas it fits; None: as is
    position: Position | None = None  # where the subject's box goes; None: where it was
    shadow: bool = False  # a drop shadow beneath the subject
    shadow_opacity: int = DEFAULT_SHADOW_OPACITY  # percent
    bg_image: bytes | None = field(default=None, repr=False)  # an encoded background photo

    def __post_init__(self) -> None:
        check_values(self)
        if self.fmt == "jpg" and not self.only_mask and self.bgcolor is None and not self.bg_image:
            raise OptionError(
                "format jpg has no alpha channel: give a background colour R,G,B or image"
            )
        if self.bgcolor is not None and self.bg_image:
            raise OptionError("expected a background colour or a background image, got both")
        low, high = SCALE_PERCENT
        if self.scale is not None and not low <= self.scale * 100 <= high:
            raise OptionError(f"scale: expected {low}%..{high}%, got {self.scale:.0%}")
        if self.position is not None and not all(0 <= p <= 1 for p in self.position):
            raise OptionError(f"position: expected 0%..100%, got {self.position}")

    @property
    def moves_subject(self) -> bool:
        return self.scale is not None or self.position is not None


# --- the table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """How an option's values are read and written back.

    ``parse(option, label, value)`` takes text, a number or a boolean as callers send them (or
    a value parsed already) and raises OptionError "LABEL: expected X, got Y"; ``write`` gives
    the request parameter that parses to the same value (None: not a request parameter);
    ``schema`` is its OpenAPI type."""

    parse: Callable[[Option, str, object], object]
    write: Callable[[object], ParameterValue] | None
    schema: str


@dataclass(frozen=True)
class Option:
    """One output option, declared once (see the module's docstring)."""

    field: str  # what it sets: a field of OutputOptions or MattingOptions, or ALPHA_MATTING
    name: str  # cutout's request parameter; the CLI's flag is --NAME with dashes
    kind: Kind
    help: str
    low: int | None = None  # a number's range
    high: int | None = None
    choices: tuple[str, ...] = ()
    rembg: str | None = None  # rembg's spelling: its CLI's short flag (-om), its HTTP field (om)
    on_rembg_api: bool = False  # a field of rembg's HTTP API, under rembg's spelling if any
    photos_only: bool = False  # framing and scene: photos', not a video's frames'
    metavar: str | None = None

    def parse(self, label: str, value: object) -> object:
        return self.kind.parse(self, label, value)

    @property
    def flag(self) -> str:
        return f"--{self.name.replace('_', '-')}"

    @property
    def http_name(self) -> str:
        return self.rembg or self.name

    @property
    def is_parameter(self) -> bool:
        return self.kind.write is not None


def _percent(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def _color(label: str, value: object) -> Color | None:
    if not isinstance(value, str):
        return value  # type: ignore[return-value]  # parsed already (a CLI type, remove.bg's)
    return parse_color(value, label) if value else None


def _region(label: str, value: object) -> Roi:
    return check_roi(label, parse_lengths(label, value, 4), value)  # type: ignore[arg-type]


FLAG = Kind(lambda o, label, v: parse_bool(label, v), bool, "boolean")
NUMBER = Kind(lambda o, label, v: parse_int(label, v, o.low, o.high), int, "integer")
CHOICE = Kind(
    lambda o, label, v: parse_choice(label, v, o.choices, default_of(o)),  # type: ignore[arg-type]
    str,
    "string",
)
COLOR = Kind(lambda o, label, v: _color(label, v), lambda c: ",".join(map(str, c)), "string")
REGION = Kind(lambda o, label, v: _region(label, v), lambda r: " ".join(map(str, r)), "string")
SCALE = Kind(lambda o, label, v: parse_scale(label, v), _percent, "string")  # type: ignore[arg-type]
PLACE = Kind(
    lambda o, label, v: parse_position(label, v),
    lambda p: " ".join(map(_percent, p)),  # type: ignore[attr-defined]
    "string",
)
UPLOAD = Kind(lambda o, label, v: bytes(v), None, "binary")  # type: ignore[call-overload]

COMPOSITE_HELP = "; ".join(f"{mode}: {text}" for mode, text in EXPLANATIONS.items())
PHOTOS = {"photos_only": True}
REMBG = {"on_rembg_api": True}
OPTIONS: tuple[Option, ...] = (
    Option("only_mask", "only_mask", FLAG, "write the grey mask", rembg="om", **REMBG),
    Option(
        "post_process", "post_process_mask", FLAG,
        "smooth and binarise the mask as rembg's -ppm does", rembg="ppm", **REMBG,
    ),
    Option(
        ALPHA_MATTING, ALPHA_MATTING, FLAG,
        "refine soft edges with closed-form matting, as rembg -a (slow; needs the [matting] "
        "extra)", rembg="a", **REMBG,
    ),
    Option(
        "foreground_threshold", "alpha_matting_foreground_threshold", NUMBER,
        "alpha matting: sure foreground above", *THRESHOLD_RANGE, rembg="af", **REMBG,
    ),
    Option(
        "background_threshold", "alpha_matting_background_threshold", NUMBER,
        "alpha matting: sure background below", *THRESHOLD_RANGE, rembg="ab", **REMBG,
    ),
    Option(
        "erode_size", "alpha_matting_erode_size", NUMBER,
        "alpha matting: erosion of both sure regions, pixels", *THRESHOLD_RANGE, rembg="ae",
        **REMBG,
    ),
    Option("bgcolor", "bgcolor", COLOR, "compose over R,G,B[,A]", rembg="bgc", **REMBG),
    Option("composite", "composite", CHOICE, COMPOSITE_HELP, choices=MODES, **REMBG),
    Option("fmt", "format", CHOICE, "output format", choices=FORMATS, **REMBG),
    Option("png_compression", "png_compression", NUMBER, "zlib level (measured)", *PNG_LEVELS),
    Option("crop", "crop", FLAG, "crop to the subject's box (remove.bg's crop)", **PHOTOS),
    Option(
        "crop_margin", "crop_margin", NUMBER, "pixels kept around the subject with --crop",
        low=0, **PHOTOS,
    ),
    Option(
        "max_output_pixels", "max_output_pixels", NUMBER,
        "scale the result down to at most this many pixels (remove.bg's size=preview)",
        low=1, **PHOTOS,
    ),
    Option(
        "bg_image", BG_IMAGE, UPLOAD, "compose over this photo (covers the canvas)",
        metavar="FILE", **PHOTOS, **REMBG,
    ),
    Option(
        "roi", "roi", REGION, "only this region can be foreground (px or %)",
        metavar="'X1 Y1 X2 Y2'", **PHOTOS,
    ),
    Option(
        "semitransparency", "semitransparency", FLAG,
        "semitransparent edges (off: every pixel opaque or clear)", **PHOTOS,
    ),
    Option(
        "scale", "scale", SCALE,
        "the subject's size: 10%..100% of the canvas, or original (default)", **PHOTOS,
    ),
    Option(
        POSITION, POSITION, PLACE,
        "original (default; center with --scale), center, X% or 'X% Y%'", **PHOTOS,
    ),
    Option("shadow", "shadow", FLAG, "a soft drop shadow beneath the subject", **PHOTOS, **REMBG),
    Option(
        "shadow_opacity", "shadow_opacity", NUMBER, "the shadow's opacity in percent",
        *SHADOW_OPACITY_RANGE, **PHOTOS,
    ),
)  # fmt: skip
MATTING_FIELDS = tuple(f.name for f in dataclasses.fields(MattingOptions))


def option(field_name: str) -> Option:
    """The row of :data:`OPTIONS` that sets ``field_name``."""
    return next(o for o in OPTIONS if o.field == field_name)


def fields() -> tuple[str, ...]:
    """What :func:`build_options` takes under its own names: every option's field."""
    return tuple(o.field for o in OPTIONS)


def parameter_names() -> tuple[str, ...]:
    """Every request parameter of the ``cutout`` model."""
    return (MODEL, *(o.name for o in OPTIONS if o.is_parameter), MAX_PIXELS)


def default_of(row: Option) -> object:
    """What an option is when a caller leaves it out (None: nothing): its field's default in
    OutputOptions (matting's thresholds: in MattingOptions; the switch: off)."""
    if row.field == ALPHA_MATTING:
        return False
    source = MattingOptions if row.field in MATTING_FIELDS else OutputOptions
    return _field_defaults(source)[row.field]


@functools.cache
def _field_defaults(source: type) -> dict[str, object]:
    """A dataclass's fields' defaults (read once per class)."""
    return {f.name: f.default for f in dataclasses.fields(source)}


def field_default(field_name: str) -> object:
    return default_of(option(field_name))


def value_of(options: OutputOptions, row: Option) -> object:
    """The option's value in ``options`` (matting's thresholds: None without matting)."""
    if row.field == ALPHA_MATTING:
        return options.matting is not None
    if row.field in MATTING_FIELDS:
        return getattr(options.matting, row.field) if options.matting is not None else None
    return getattr(options, row.field)


def check_values(options: OutputOptions) -> None:
    """Each number within its option's range, each choice one of its option's (options made
    directly, not parsed from a caller's values)."""
    for row in OPTIONS:
        value = getattr(options, row.field, None)
        if value is None:
            continue
        if row.kind is NUMBER:
            parse_int(row.name, value, row.low, row.high)
        elif row.choices and value not in row.choices:
            choices = ", ".join(row.choices)
            raise OptionError(f"{row.name}: expected one of {choices}, got {shown(value)}")


DEFAULTS = OutputOptions()


@dataclass(frozen=True)
class CutRequest:
    """One ``cutout`` request's parameters, parsed."""

    model: str = DEFAULT_MODEL
    options: OutputOptions = field(default_factory=OutputOptions)
    max_pixels: int | None = None  # may only lower the server's own limit


def _named(name: str | None, message: str) -> str:
    return f"{name}: {message}" if name else message


def parse_color(text: str, name: str | None = None) -> Color:
    """``"255,255,255"`` or ``"0,0,0,128"`` -> RGBA tuple; ``name`` heads the error."""
    try:
        parts = [int(p) for p in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) not in (3, 4) or not all(0 <= p <= 255 for p in parts):
        raise OptionError(
            _named(name, f"expected R,G,B or R,G,B,A with values 0..255, got {text!r}")
        )
    return (*parts, 255)[:4] if len(parts) == 3 else tuple(parts)  # type: ignore[return-value]


def parse_scale(name: str, value: object) -> float | None:
    """remove.bg's ``scale``: ``original`` (None) or ``10%``..``100%`` (a fraction)."""
    if isinstance(value, str) and value.strip().lower() == ORIGINAL:
        return None
    try:
        return parse_percent(name, value, *SCALE_PERCENT)
    except OptionError:
        low, high = SCALE_PERCENT
        raise OptionError(
            f"{name}: expected {ORIGINAL} or {low}%..{high}%, got {shown(value)}"
        ) from None


def parse_position(name: str, value: object) -> Position | None:
    """remove.bg's ``position``: ``original`` (None), ``center``, ``X%`` (both) or ``X% Y%``."""
    if isinstance(value, tuple):
        return value  # type: ignore[return-value]
    words = value.lower().split() if isinstance(value, str) else []
    if words == [ORIGINAL]:
        return None
    if words == [CENTERED]:
        return CENTER
    try:
        if len(words) in (1, 2):
            parts = [parse_percent(name, word, *POSITION_PERCENT) for word in words]
            return (parts[0], parts[-1])
    except OptionError:
        pass
    expected = f"{ORIGINAL}, {CENTERED}, X% or X% Y% (0%..100%)"
    raise OptionError(f"{name}: expected {expected}, got {shown(value)}")


def check_roi(name: str, roi: Roi, given: object) -> Roi:
    """A region with x1 < x2 and y1 < y2 wherever both ends of a side are in the same unit
    (pixels against percent is known only at the photo's size: u2net.image.scene.roi_box)."""
    x1, y1, x2, y2 = roi
    if any(a.percent == b.percent and a.value >= b.value for a, b in ((x1, x2), (y1, y2))):
        got = shown(given) if isinstance(given, str) else repr(" ".join(map(str, roi)))
        raise OptionError(f"{name}: expected x1 < x2 and y1 < y2 (a region), got {got}")
    return roi


# --- options from callers' values, and as the ``cutout`` model's parameters ------------------


def build_options(
    values: Mapping[str, object], names: Mapping[str, str] | None = None, label: str = "{}"
) -> OutputOptions:
    """The one way to options from what a caller sent: raw values (text, numbers, booleans or
    parsed values) under the caller's own names. Absent or None: the default.

    ``names`` maps each of the caller's names to the field it sets (default: :func:`fields`,
    by their own names); ``label`` formats the caller's name in "NAME: expected X, got Y". A
    scale without a position centres the subject. Raises OptionError.
    """
    names = names if names is not None else {f: f for f in fields()}
    given = {f: values[own] for own, f in names.items() if values.get(own) is not None}
    labels = {f: label.format(own) for own, f in names.items()}
    matting = (ALPHA_MATTING, *MATTING_FIELDS)
    kwargs: dict[str, object] = {
        f: option(f).parse(labels[f], value) for f, value in given.items() if f not in matting
    }
    if ALPHA_MATTING in given:
        kwargs["matting"] = _matting(given, labels)
    if kwargs.get("scale") is not None and POSITION not in given:
        kwargs[POSITION] = CENTER
    if not kwargs.get("bg_image"):
        kwargs.pop("bg_image", None)  # an empty upload: none
    check_clashes(kwargs, labels)
    return OutputOptions(**kwargs)  # type: ignore[arg-type]


def _matting(given: Mapping[str, object], labels: Mapping[str, str]) -> MattingOptions | None:
    if not option(ALPHA_MATTING).parse(labels[ALPHA_MATTING], given[ALPHA_MATTING]):
        return None
    thresholds = {f: option(f).parse(labels[f], given[f]) for f in MATTING_FIELDS if f in given}
    return MattingOptions(**thresholds)  # type: ignore[arg-type]


# options that set the same thing two ways, or one that the other makes meaningless: a pair
# given together is refused, naming both (nothing is dropped in silence)
CLASHES = (
    ("only_mask", "bgcolor", "a mask has no background"),
    ("only_mask", "bg_image", "a mask has no background"),
    ("only_mask", "shadow", "a mask has no shadow"),
    ("bgcolor", "bg_image", "one background at a time"),
)


def clash(first: str, second: str, why: str) -> OptionError:
    """Two fields given together that cannot both be honoured, named as the caller sent them."""
    return OptionError(f"{first} and {second}: expected one of them, got both ({why})")


def check_clashes(kwargs: Mapping[str, object], labels: Mapping[str, str]) -> None:
    """OptionError naming both fields when a pair of CLASHES is set together."""
    for first, second, why in CLASHES:
        if kwargs.get(first) and kwargs.get(second):
            raise clash(labels.get(first, first), labels.get(second, second), why)


def to_parameters(options: OutputOptions, model: str = DEFAULT_MODEL) -> dict[str, ParameterValue]:
    """Options -> request parameters: the model, and each option that differs from its
    default, written as :func:`from_parameters` reads it back."""
    params: dict[str, ParameterValue] = {MODEL: model}
    for row in OPTIONS:
        value = value_of(options, row)
        if row.kind.write is not None and value is not None and value != default_of(row):
            params[row.name] = row.kind.write(value)
    if options.scale is not None and options.position is None:
        params[POSITION] = ORIGINAL  # else a scale implies the centre
    return params


def from_parameters(params: Mapping[str, object], bg_image: bytes | None = None) -> CutRequest:
    """Request parameters (and the background photo's bytes, sent beside them) -> a parsed
    request; raises OptionError saying "expected X, got Y"."""
    reject_unknown(params, parameter_names(), what="parameters")
    names = {o.name: o.field for o in OPTIONS}
    options = build_options({**params, BG_IMAGE: bg_image}, names, label="parameter {}")
    max_pixels = params.get(MAX_PIXELS)
    if max_pixels is not None:
        max_pixels = parse_int(f"parameter {MAX_PIXELS}", max_pixels, low=1)
    return CutRequest(str(params.get(MODEL, DEFAULT_MODEL)), options, max_pixels)
