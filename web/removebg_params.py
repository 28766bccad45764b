"""remove.bg's ``/v1.0/removebg`` fields -> the ``cutout`` model's options. Pure.

- ``size``: ``preview`` (and its older names ``small``, ``regular``) at most 0.25 MP,
  ``medium`` 1.5 MP, ``hd`` 4 MP, ``full``, ``4k``, ``50MP`` and ``auto`` the original size.
  remove.bg's default is ``preview``; so is ours.
- ``format``: ``auto`` (jpg over an opaque ``bg_color``, else png), ``png``, ``jpg`` (over
  white without ``bg_color``, as remove.bg), ``webp``, ``zip`` (``color.jpg`` + ``alpha.png``).
- ``channels``: ``rgba`` or ``alpha`` (the grey matte). ``bg_color``: hex or a colour name.
- ``crop``, ``crop_margin``: pixels (``30px``, ``30``) or percent (``10%``, of the photo's
  larger side: remove.bg takes it of the subject's, which only the model knows), at most 500 px.
- ``composite`` (this gateway's addition): ``clean`` (default), ``rembg`` or ``straight``.
- Every other documented field is accepted and ignored.

Bad values raise OptionError naming the field (web answers 400).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass

from u2net.compositing import MODES
from u2net.errors import OptionError
from u2net.options import DEFAULTS, OutputOptions, build_options, parse_web_color
from u2net.values import parse_choice, reject_unknown, shown

SOURCES = ("image_file", "image_file_b64", "image_url")
USED = ("size", "format", "channels", "bg_color", "crop", "crop_margin", "composite")
IGNORED = (
    "type", "type_level", "roi", "scale", "position", "add_shadow", "semitransparency",
    "bg_image_url", "bg_image_file", "shadow_type", "shadow_opacity",
)  # fmt: skip
PREVIEW_PIXELS = 250_000
SIZES: dict[str, int | None] = {
    "preview": PREVIEW_PIXELS, "small": PREVIEW_PIXELS, "regular": PREVIEW_PIXELS,
    "medium": 1_500_000, "hd": 4_000_000, "full": None, "4k": None, "50mp": None, "auto": None,
}  # fmt: skip
FORMATS = ("auto", "png", "jpg", "webp", "zip")
CHANNELS = ("rgba", "alpha")
CHOICES = {"size": tuple(SIZES), "format": FORMATS, "channels": CHANNELS, "composite": MODES}
# remove.bg's defaults for its fields, as text (a margin: the options' own)
FIELD_DEFAULTS = {
    "size": "preview", "format": "auto", "channels": "rgba", "composite": DEFAULTS.composite,
    "crop_margin": str(DEFAULTS.crop_margin),
}  # fmt: skip
MAX_MARGIN_PX = 500
MARGIN = re.compile(r"(\d+(?:\.\d+)?)\s*(px|%)?")
WHITE = (255, 255, 255, 255)
TRANSPARENT = (0, 0, 0, 0)
MEDIA_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "zip": "application/zip",
}


@dataclass(frozen=True)
class RemoveBgRequest:
    source: str  # which of SOURCES carries the image
    fmt: str  # png, jpg, webp or zip (auto resolved)
    options: OutputOptions  # for zip: the framing both parts share
    margin_percent: float | None = None  # resolved to pixels once the photo's size is known


def _choice(fields: Mapping[str, str], name: str) -> str:
    return parse_choice(name, fields.get(name), CHOICES[name], FIELD_DEFAULTS[name])


def _margin(fields: Mapping[str, str]) -> tuple[int, float | None]:
    text = fields.get("crop_margin", FIELD_DEFAULTS["crop_margin"]).strip()
    match = MARGIN.fullmatch(text)
    if match is None:
        raise OptionError(f"crop_margin: expected one margin like 30px or 10%, got {shown(text)}")
    value = float(match.group(1))
    if match.group(2) == "%":
        return 0, value
    return min(round(value), MAX_MARGIN_PX), None


def _source(fields: Mapping[str, str]) -> str:
    given = [name for name in SOURCES if fields.get(name)]
    if len(given) != 1:
        got = ", ".join(given) or "none"
        raise OptionError(f"expected exactly one of {', '.join(SOURCES)}, got {got}")
    return given[0]


def _background(fields: Mapping[str, str]) -> tuple[int, int, int, int] | None:
    text = fields.get("bg_color", "").strip()
    return parse_web_color(text, "bg_color") if text else None


def removebg_request(fields: Mapping[str, str]) -> RemoveBgRequest:
    """remove.bg's fields (from multipart, a form or JSON) -> a parsed request."""
    reject_unknown(fields, (*SOURCES, *USED, *IGNORED))
    source = _source(fields)
    size = _choice(fields, "size")
    fmt = _choice(fields, "format")
    only_mask = _choice(fields, "channels") == "alpha"
    background = None if only_mask else _background(fields)
    if fmt == "auto":
        fmt = "jpg" if background is not None and background[3] == 255 else "png"
    if fmt == "jpg" and not only_mask and background is None:
        background = WHITE
    margin, percent = _margin(fields)
    options = build_options({
        "only_mask": only_mask and fmt != "zip",
        "bgcolor": background if fmt != "zip" else None,
        "composite": _choice(fields, "composite"),
        "fmt": "png" if fmt == "zip" else fmt,
        "crop": fields.get("crop"),
        "crop_margin": margin,
        "max_output_pixels": SIZES[size],
    })  # fmt: skip
    return RemoveBgRequest(source, fmt, options, percent)


def with_margin(request: RemoveBgRequest, photo_size: tuple[int, int]) -> OutputOptions:
    """The options with a percent margin turned into pixels of this photo."""
    if request.margin_percent is None or not request.options.crop:
        return request.options
    pixels = min(round(max(photo_size) * request.margin_percent / 100), MAX_MARGIN_PX)
    return dataclasses.replace(request.options, crop_margin=pixels)


def zip_parts(options: OutputOptions) -> dict[str, OutputOptions]:
    """``format=zip``: the colour image (the composite mode's RGB, JPEG) and the matte (PNG).

    Composing over a fully transparent colour keeps each pixel's RGB where alpha > 0."""
    return {
        "color.jpg": dataclasses.replace(options, fmt="jpg", bgcolor=TRANSPARENT),
        "alpha.png": dataclasses.replace(options, fmt="png", only_mask=True, bgcolor=None),
    }
