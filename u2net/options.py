"""How a cut-out is rendered and encoded, and the same options as request parameters.

``OutputOptions`` is what the CLI flags, the ``cutout`` model's request parameters and the
HTTP gateway all turn into; :func:`to_parameters` / :func:`from_parameters` are the one
mapping between the options and the parameter names of the ``cutout`` contract.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from u2net.catalogue import DEFAULT_MODEL
from u2net.matting import MattingOptions

DEFAULT_PNG_COMPRESSION = 1  # measured: docs/measurements.md, "Per-stage costs"
FORMATS = ("png", "webp", "jpg")
Color = tuple[int, int, int, int]
ParameterValue = bool | int | str

# request parameter names of the ``cutout`` model
MODEL = "model"
ONLY_MASK = "only_mask"
BGCOLOR = "bgcolor"
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
PARAMETERS = (
    MODEL, ONLY_MASK, BGCOLOR, FORMAT, PNG_COMPRESSION, POST_PROCESS_MASK, ALPHA_MATTING,
    *MATTING_THRESHOLDS, CROP, CROP_MARGIN, MAX_OUTPUT_PIXELS, MAX_PIXELS,
)  # fmt: skip


@dataclass(frozen=True)
class OutputOptions:
    """How a cut-out is rendered and encoded."""

    only_mask: bool = False
    bgcolor: Color | None = None
    post_process: bool = False  # rembg's --post-process-mask
    matting: MattingOptions | None = None  # rembg's -a
    fmt: str = "png"
    png_compression: int = DEFAULT_PNG_COMPRESSION
    crop: bool = False  # to the foreground's box
    crop_margin: int = 0  # pixels around the box when cropping
    max_output_pixels: int | None = None  # scale the result down to at most this many pixels

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ValueError(f"expected a format from {', '.join(FORMATS)}, got {self.fmt!r}")
        if self.fmt == "jpg" and not self.only_mask and self.bgcolor is None:
            raise ValueError("format jpg has no alpha channel: give a background colour R,G,B")
        if not 0 <= self.png_compression <= 9:
            raise ValueError(f"expected a PNG compression 0..9, got {self.png_compression}")
        if self.crop_margin < 0:
            raise ValueError(f"expected a crop margin ≥ 0 pixels, got {self.crop_margin}")
        if self.max_output_pixels is not None and self.max_output_pixels < 1:
            raise ValueError(f"expected max output pixels ≥ 1, got {self.max_output_pixels}")


@dataclass(frozen=True)
class CutRequest:
    """One ``cutout`` request's parameters, parsed."""

    model: str = DEFAULT_MODEL
    options: OutputOptions = field(default_factory=OutputOptions)
    max_pixels: int | None = None  # may only lower the server's own limit


def parse_color(text: str) -> Color:
    """``"255,255,255"`` or ``"0,0,0,128"`` -> RGBA tuple."""
    try:
        parts = [int(p) for p in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) not in (3, 4) or not all(0 <= p <= 255 for p in parts):
        raise ValueError(f"expected R,G,B or R,G,B,A with values 0..255, got {text!r}")
    return (*parts, 255)[:4] if len(parts) == 3 else tuple(parts)  # type: ignore[return-value]


HEX_COLOR = re.compile(r"#?([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")


def parse_web_color(text: str) -> Color:
    """remove.bg's ``bg_color``: hex (``81d4fa``, ``#fff``, ``81d4fa77``) or a colour name
    (``green``, CSS names) -> RGBA tuple."""
    from PIL import ImageColor

    value = text.strip()
    spec = f"#{value.lstrip('#')}" if HEX_COLOR.fullmatch(value) else value.lower()
    try:
        rgb = ImageColor.getrgb(spec)
    except ValueError:
        raise ValueError(
            f"expected a hex colour (81d4fa, 81d4fa77) or a colour name, got {text!r}"
        ) from None
    return (*rgb, 255)[:4] if len(rgb) == 3 else rgb  # type: ignore[return-value]


def to_parameters(options: OutputOptions, model: str = DEFAULT_MODEL) -> dict[str, ParameterValue]:
    """Options -> request parameters (only what differs from the defaults, plus the model)."""
    params: dict[str, ParameterValue] = {MODEL: model, FORMAT: options.fmt}
    flags = {ONLY_MASK: options.only_mask, POST_PROCESS_MASK: options.post_process}
    params.update({name: True for name, on in flags.items() if on})
    if options.bgcolor is not None:
        params[BGCOLOR] = ",".join(map(str, options.bgcolor))
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
    return params


def _flag(params: Mapping[str, object], name: str) -> bool:
    value = params.get(name, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise ValueError(f"parameter {name}: expected true or false, got {value!r}")


def _int(params: Mapping[str, object], name: str, default: int | None) -> int | None:
    value = params.get(name, default)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ValueError(f"parameter {name}: expected a whole number, got {value!r}")


def _color(params: Mapping[str, object]) -> Color | None:
    value = params.get(BGCOLOR)
    if value in (None, ""):
        return None
    try:
        return parse_color(str(value))
    except ValueError as e:
        raise ValueError(f"parameter {BGCOLOR}: {e}") from e


def _matting(params: Mapping[str, object]) -> MattingOptions | None:
    if not _flag(params, ALPHA_MATTING):
        return None
    defaults = MattingOptions()
    values = {
        attr: _int(params, name, getattr(defaults, attr))
        for name, attr in MATTING_THRESHOLDS.items()
    }
    for name, attr in MATTING_THRESHOLDS.items():
        if not 0 <= values[attr] <= 255:  # type: ignore[operator]
            raise ValueError(f"parameter {name}: expected 0..255, got {values[attr]}")
    return MattingOptions(**values)  # type: ignore[arg-type]


def from_parameters(params: Mapping[str, object]) -> CutRequest:
    """Request parameters -> a parsed request; raises ValueError saying "expected X, got Y"."""
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise ValueError(f"expected parameters from {', '.join(PARAMETERS)}, got {unknown[0]!r}")
    options = OutputOptions(
        only_mask=_flag(params, ONLY_MASK),
        bgcolor=_color(params),
        post_process=_flag(params, POST_PROCESS_MASK),
        matting=_matting(params),
        fmt=str(params.get(FORMAT, "png")).lower(),
        png_compression=_int(params, PNG_COMPRESSION, DEFAULT_PNG_COMPRESSION),  # type: ignore[arg-type]
        crop=_flag(params, CROP),
        crop_margin=_int(params, CROP_MARGIN, 0),  # type: ignore[arg-type]
        max_output_pixels=_int(params, MAX_OUTPUT_PIXELS, None),
    )
    max_pixels = _int(params, MAX_PIXELS, None)
    if max_pixels is not None and max_pixels < 1:
        raise ValueError(f"parameter {MAX_PIXELS}: expected a whole number ≥ 1, got {max_pixels}")
    return CutRequest(str(params.get(MODEL, DEFAULT_MODEL)), options, max_pixels)
