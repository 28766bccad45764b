"""How a cut-out is rendered and encoded, the one way to build it from callers' values, and
the same options as request parameters.

``OutputOptions`` is what the CLI flags, the ``cutout`` model's request parameters and the
HTTP gateway's fields all turn into, each through :func:`build_options` under its own names;
:func:`to_parameters` / :func:`from_parameters` are the one mapping between the options and
the parameter names of the ``cutout`` contract.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from u2net.catalogue import DEFAULT_MODEL
from u2net.errors import OptionError
from u2net.image.compositing import DEFAULT_MODE, MODES, Color
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

# request parameter names of the ``cutout`` model (the CLI's flags have the same names)
MODEL = "model"
ONLY_MASK = "only_mask"
BGCOLOR = "bgcolor"
COMPOSITE = "composite"
FORMAT = "format"
PNG_COMPRESSION = "png_compression"
POST_PROCESS_MASK = "post_process_mask"
ALPHA_MATTING = "alpha_matting"
MATTING_THRESHOLDS = {
    "alpha_matting_foreground_threshold": "foreground_threshold",
    "alpha_matting_background_threshold": "background_threshold",
    "alpha_matting_erode_size": "erode_size",
}
CROP = "crop"
CROP_MARGIN = "crop_margin"
MAX_OUTPUT_PIXELS = "max_output_pixels"
MAX_PIXELS = "max_pixels"
ROI = "roi"
SEMITRANSPARENCY = "semitransparency"
SCALE = "scale"
POSITION = "position"
SHADOW = "shadow"
SHADOW_OPACITY = "shadow_opacity"
PARAMETERS = (
    MODEL, ONLY_MASK, BGCOLOR, COMPOSITE, FORMAT, PNG_COMPRESSION, POST_PROCESS_MASK, ALPHA_MATTING,
    *MATTING_THRESHOLDS, CROP, CROP_MARGIN, MAX_OUTPUT_PIXELS, MAX_PIXELS, ROI, SEMITRANSPARENCY,
    SCALE, POSITION, SHADOW, SHADOW_OPACITY,
)  # fmt: skip
# the background photo's encoded bytes: the CLI's --bg-image, cutout's optional input tensor
# (u2net.contract.CUTOUT.background_name), never a request parameter
BG_IMAGE = "bg_image"
SCALE_PERCENT = (10, 100)  # remove.bg's scale: 10%..100% of the canvas, or original
POSITION_PERCENT = (0, 100)
ORIGINAL = "original"
CENTERED = "center"


@dataclass(frozen=True)
class OutputOptions:
    """How a cut-out is rendered and encoded."""

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
        if self.fmt not in FORMATS:
            raise OptionError(f"expected a format from {', '.join(FORMATS)}, got {self.fmt!r}")
        if self.composite not in MODES:
            raise OptionError(
                f"expected a composite mode from {', '.join(MODES)}, got {self.composite!r}"
            )
        if self.fmt == "jpg" and not self.only_mask and self.bgcolor is None and not self.bg_image:
            raise OptionError(
                "format jpg has no alpha channel: give a background colour R,G,B or image"
            )
        if self.bgcolor is not None and self.bg_image:
            raise OptionError("expected a background colour or a background image, got both")
        self._check_scene()
        if not 0 <= self.png_compression <= 9:
            raise OptionError(f"expected a PNG compression 0..9, got {self.png_compression}")
        if self.crop_margin < 0:
            raise OptionError(f"expected a crop margin ≥ 0 pixels, got {self.crop_margin}")
        if self.max_output_pixels is not None and self.max_output_pixels < 1:
            raise OptionError(f"expected max output pixels ≥ 1, got {self.max_output_pixels}")

    def _check_scene(self) -> None:
        low, high = SCALE_PERCENT
        if self.scale is not None and not low <= self.scale * 100 <= high:
            raise OptionError(f"expected a scale of {low}%..{high}%, got {self.scale:.0%}")
        if self.position is not None and not all(0 <= p <= 1 for p in self.position):
            raise OptionError(f"expected a position within 0%..100%, got {self.position}")
        if not 0 <= self.shadow_opacity <= 100:
            raise OptionError(f"expected a shadow opacity 0..100, got {self.shadow_opacity}")

    @property
    def moves_subject(self) -> bool:
        return self.scale is not None or self.position is not None


DEFAULTS = OutputOptions()
MATTING_DEFAULTS = MattingOptions()
THRESHOLD_RANGE = (0, 255)  # each of alpha matting's thresholds and its erosion
MATTING_FIELDS = tuple(f.name for f in dataclasses.fields(MattingOptions))
FLAG_FIELDS = ("only_mask", "post_process", "crop", "semitransparency", "shadow")
NUMBER_FIELDS = ("png_compression", "crop_margin", "max_output_pixels")
# what build_options takes: the options' own fields, matting as a switch and its thresholds
FIELDS = (
    *FLAG_FIELDS, *NUMBER_FIELDS, "bgcolor", "composite", "fmt", "alpha_matting", *MATTING_FIELDS,
    "roi", "scale", "position", "shadow_opacity", "bg_image",
)  # fmt: skip
# the ``cutout`` parameter (and CLI flag) -> the field of FIELDS it sets
PARAMETER_FIELDS = {
    ONLY_MASK: "only_mask", BGCOLOR: "bgcolor", COMPOSITE: "composite", FORMAT: "fmt",
    PNG_COMPRESSION: "png_compression",
    POST_PROCESS_MASK: "post_process", ALPHA_MATTING: "alpha_matting", **MATTING_THRESHOLDS,
    CROP: "crop", CROP_MARGIN: "crop_margin", MAX_OUTPUT_PIXELS: "max_output_pixels",
    ROI: "roi", SEMITRANSPARENCY: "semitransparency", SCALE: "scale", POSITION: "position",
    SHADOW: "shadow", SHADOW_OPACITY: "shadow_opacity",
}  # fmt: skip
# what the CLI's flags and cutout's request (parameters and inputs) set
REQUEST_FIELDS = {**PARAMETER_FIELDS, BG_IMAGE: "bg_image"}


def field_default(name: str) -> object:
    """What a field of FIELDS is when a caller leaves it out (None: nothing)."""
    if name == "alpha_matting":
        return DEFAULTS.matting is not None
    source = MATTING_DEFAULTS if name in MATTING_FIELDS else DEFAULTS
    return getattr(source, name)


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


HEX_COLOR = re.compile(r"#?([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")


def parse_web_color(text: str, name: str | None = None) -> Color:
    """remove.bg's ``bg_color``: hex (``81d4fa``, ``#fff``, ``81d4fa77``) or a colour name
    (``green``, CSS names) -> RGBA tuple; ``name`` heads the error."""
    from PIL import ImageColor

    value = text.strip()
    spec = f"#{value.lstrip('#')}" if HEX_COLOR.fullmatch(value) else value.lower()
    try:
        rgb = ImageColor.getrgb(spec)
    except ValueError:
        expected = "expected a hex colour (81d4fa, 81d4fa77) or a colour name"
        raise OptionError(_named(name, f"{expected}, got {text!r}")) from None
    return (*rgb, 255)[:4] if len(rgb) == 3 else rgb  # type: ignore[return-value]


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


def _percent(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def _scene_parameters(options: OutputOptions) -> dict[str, ParameterValue]:
    params: dict[str, ParameterValue] = {}
    if options.roi is not None:
        params[ROI] = " ".join(map(str, options.roi))
    if not options.semitransparency:
        params[SEMITRANSPARENCY] = False
    if options.scale is not None:
        params[SCALE] = _percent(options.scale)
    if options.position is not None:
        params[POSITION] = " ".join(map(_percent, options.position))
    elif options.scale is not None:
        params[POSITION] = ORIGINAL  # else a scale implies the centre
    if options.shadow:
        params[SHADOW] = True
        params[SHADOW_OPACITY] = options.shadow_opacity
    return params


def to_parameters(options: OutputOptions, model: str = DEFAULT_MODEL) -> dict[str, ParameterValue]:
    """Options -> request parameters (only what differs from the defaults, plus the model)."""
    params: dict[str, ParameterValue] = {MODEL: model, FORMAT: options.fmt}
    flags = {ONLY_MASK: options.only_mask, POST_PROCESS_MASK: options.post_process}
    params.update({name: True for name, on in flags.items() if on})
    if options.bgcolor is not None:
        params[BGCOLOR] = ",".join(map(str, options.bgcolor))
    if options.composite != DEFAULT_MODE:
        params[COMPOSITE] = options.composite
    if options.png_compression != DEFAULT_PNG_COMPRESSION:
        params[PNG_COMPRESSION] = options.png_compression
    if options.matting is not None:
        params[ALPHA_MATTING] = True
        for name, attr in MATTING_THRESHOLDS.items():
            params[name] = getattr(options.matting, attr)
    if options.crop:
        params[CROP] = True
        params[CROP_MARGIN] = options.crop_margin
    if options.max_output_pixels is not None:
        params[MAX_OUTPUT_PIXELS] = options.max_output_pixels
    return params | _scene_parameters(options)


def _color(name: str, value: object) -> Color | None:
    if not isinstance(value, str):
        return value  # type: ignore[return-value]  # parsed already (a CLI type, remove.bg's)
    return parse_color(value, name) if value else None


def _matting(given: Mapping[str, object], labels: Mapping[str, str]) -> MattingOptions | None:
    if not parse_bool(labels["alpha_matting"], given["alpha_matting"]):
        return None
    low, high = THRESHOLD_RANGE
    values = {f: parse_int(labels[f], given[f], low, high) for f in MATTING_FIELDS if f in given}
    return MattingOptions(**values)


def build_options(
    values: Mapping[str, object], names: Mapping[str, str] | None = None, label: str = "{}"
) -> OutputOptions:
    """The one way to options from what a caller sent: raw values (text, numbers, booleans or
    parsed values) under the caller's own names. Absent or None: the default.

    ``names`` maps each of the caller's names to the field of :data:`FIELDS` it sets (default:
    those names themselves); ``label`` formats the caller's name in "NAME: expected X, got Y".
    Raises OptionError.
    """
    names = names if names is not None else {f: f for f in FIELDS}
    given = {f: values[own] for own, f in names.items() if values.get(own) is not None}
    labels = {f: label.format(own) for own, f in names.items()}
    kwargs: dict[str, object] = {
        f: parse_bool(labels[f], given[f]) for f in FLAG_FIELDS if f in given
    }
    kwargs |= {f: parse_int(labels[f], given[f]) for f in NUMBER_FIELDS if f in given}
    if "bgcolor" in given:
        kwargs["bgcolor"] = _color(labels["bgcolor"], given["bgcolor"])
    if "composite" in given:
        label, value = labels["composite"], given["composite"]
        kwargs["composite"] = parse_choice(label, value, MODES, DEFAULT_MODE)
    if "fmt" in given:
        kwargs["fmt"] = str(given["fmt"]).lower()
    if "alpha_matting" in given:
        kwargs["matting"] = _matting(given, labels)
    kwargs |= _scene(given, labels)
    check_clashes(kwargs, labels)
    return OutputOptions(**kwargs)  # type: ignore[arg-type]


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


def check_roi(name: str, roi: Roi, given: object) -> Roi:
    """A region with x1 < x2 and y1 < y2 wherever both ends of a side are in the same unit
    (pixels against percent is known only at the photo's size: u2net.image.scene.roi_box)."""
    x1, y1, x2, y2 = roi
    if any(a.percent == b.percent and a.value >= b.value for a, b in ((x1, x2), (y1, y2))):
        got = shown(given) if isinstance(given, str) else repr(" ".join(map(str, roi)))
        raise OptionError(f"{name}: expected x1 < x2 and y1 < y2 (a region), got {got}")
    return roi


def _scene(given: Mapping[str, object], labels: Mapping[str, str]) -> dict[str, object]:
    """The composition fields (u2net.image.scene): a scale without a position centres the
    subject."""
    kwargs: dict[str, object] = {}
    if "roi" in given:
        roi = parse_lengths(labels["roi"], given["roi"], 4)
        kwargs["roi"] = check_roi(labels["roi"], roi, given["roi"])
    if "scale" in given:
        kwargs["scale"] = parse_scale(labels["scale"], given["scale"])
    if "position" in given:
        kwargs["position"] = parse_position(labels["position"], given["position"])
    elif kwargs.get("scale") is not None:
        kwargs["position"] = CENTER
    if "shadow_opacity" in given:
        kwargs["shadow_opacity"] = parse_int(
            labels["shadow_opacity"], given["shadow_opacity"], 0, 100
        )
    if given.get("bg_image"):
        kwargs["bg_image"] = bytes(given["bg_image"])  # type: ignore[arg-type]
    return kwargs


def from_parameters(params: Mapping[str, object], bg_image: bytes | None = None) -> CutRequest:
    """Request parameters (and the background photo's bytes, sent beside them) -> a parsed
    request; raises OptionError saying "expected X, got Y"."""
    reject_unknown(params, PARAMETERS, what="parameters")
    values = {**params, BG_IMAGE: bg_image}
    options = build_options(values, REQUEST_FIELDS, label="parameter {}")
    max_pixels = params.get(MAX_PIXELS)
    if max_pixels is not None:
        max_pixels = parse_int(f"parameter {MAX_PIXELS}", max_pixels, low=1)
    return CutRequest(str(params.get(MODEL, DEFAULT_MODEL)), options, max_pixels)
