"""remove.bg's ``/v1.0/removebg`` fields -> the ``cutout`` model's options. Pure.

- ``size``: ``preview`` (and its older names ``small``, ``regular``) at most 0.25 MP,
  ``medium`` 1.5 MP, ``hd`` 4 MP, ``full``, ``4k``, ``50MP`` and ``auto`` the original size.
  remove.bg's default is ``preview``; so is ours.
- ``format``: ``auto`` (jpg over an opaque ``bg_color``, else png), ``png``, ``jpg`` (over
  white without ``bg_color``, as remove.bg), ``webp``, ``zip`` (``color.jpg`` + ``alpha.png``).
- ``channels``: ``rgba`` or ``alpha`` (the grey matte). ``bg_color``: hex or a colour name.
- ``crop``, ``crop_margin``: pixels (``30px``, ``30``) or percent (``10%``, of the photo's
  larger side: remove.bg takes it of the subject's, which only the model knows), at most 500 px.
- ``bg_image_url`` (fetched as ``image_url`` is, when URL fetching is on), ``bg_image_file``
  (multipart): a background photo, resized to cover the canvas and centred. At most one of
  the ``bg_`` fields. ``format=auto`` gives jpg over it.
- ``roi`` (``x1 y1 x2 y2``, px or %), ``semitransparency`` (false hardens the matte),
  ``scale`` (``10%``..``100%``, ``original``), ``position`` (``original``, ``center``, ``X%``,
  ``X% Y%``; ``center`` when only ``scale`` is given): :mod:`u2net.image.scene`.
- ``add_shadow`` or ``shadow_type=drop`` (``none``: no shadow; ``car`` and ``3D`` are not
  implemented: 400), ``shadow_opacity`` 0..100: a drop shadow beneath the subject;
  ``add_shadow=true`` with ``shadow_type=none``: 400.
- ``type`` and ``type_level``: checked and accepted; no model is chosen by them. ``X-Type``
  says the type asked for (``other`` for ``auto``).
- ``channels=alpha`` answers the matte: ``roi``, ``semitransparency``, ``scale`` and
  ``position`` shape it; with a ``bg_`` field or a shadow it answers 400 naming both.
- ``composite`` (this gateway's addition): ``clean`` (default), ``rembg`` or ``straight``.
- A field that is not documented answers 400, and so does ``format=zip`` with a ``bg_``
  field, a shadow or ``channels=alpha`` (the archive holds the cut-out's colours and its
  matte): nothing asked for is dropped in silence.
- What the clamps made of ``crop_margin`` and ``roi`` is said in the answer's headers
  (:func:`applied_headers`); a ``roi`` reversed, empty or outside the photo answers 400.

Bad values raise OptionError naming the field (web answers 400).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from PIL import ImageColor

from u2net.errors import OptionError
from u2net.image.compositing import MODES, Color
from u2net.image.scene import roi_box
from u2net.options import DEFAULTS, OutputOptions, build_options, clash
from u2net.values import (
    LENGTH,
    finite_number,
    parse_bool,
    parse_choice,
    reject_unknown,
    shown,
)

SOURCES = ("image_file", "image_file_b64", "image_url")
BACKGROUNDS = ("bg_color", "bg_image_url", "bg_image_file")
USED = (
    "size", "format", "channels", "crop", "crop_margin", "composite", *BACKGROUNDS, "roi",
    "semitransparency", "scale", "position", "add_shadow", "shadow_type", "shadow_opacity",
    "type", "type_level",
)  # fmt: skip
TYPES = ("auto", "person", "product", "car", "animal", "graphic", "transportation")
TYPE_LEVELS = ("1", "none", "2", "latest")
SHADOW_TYPES = ("none", "drop", "car", "3d")
DROP_SHADOW = "drop"
NOT_IMPLEMENTED_SHADOWS = ("car", "3d")
UNKNOWN_TYPE = "other"  # X-Type when the type was left to detection (type=auto)
PREVIEW_PIXELS = 250_000
SIZES: dict[str, int | None] = {
    "preview": PREVIEW_PIXELS, "small": PREVIEW_PIXELS, "regular": PREVIEW_PIXELS,
    "medium": 1_500_000, "hd": 4_000_000, "full": None, "4k": None, "50mp": None, "auto": None,
}  # fmt: skip
FORMATS = ("auto", "png", "jpg", "webp", "zip")
CHANNELS = ("rgba", "alpha")
CHOICES = {
    "size": tuple(SIZES), "format": FORMATS, "channels": CHANNELS, "composite": MODES,
    "type": TYPES, "type_level": TYPE_LEVELS, "shadow_type": SHADOW_TYPES,
}  # fmt: skip
# remove.bg's defaults for its fields, as text (a margin: the options' own)
FIELD_DEFAULTS = {
    "size": "preview", "format": "auto", "channels": "rgba", "composite": DEFAULTS.composite,
    "crop_margin": str(DEFAULTS.crop_margin), "type": "auto", "type_level": "1",
    "shadow_type": "none", "shadow_opacity": str(DEFAULTS.shadow_opacity),
    "scale": "original", "position": "original",
}  # fmt: skip
MAX_MARGIN_PX = 500
MARGIN_HEADER = "X-Crop-Margin-Applied"  # the margin cropped with, in the photo's pixels
ROI_HEADER = "X-Roi-Applied"  # the region of interest within the photo, in its pixels
MARGIN = LENGTH  # one length: N, Npx or N%, as roi's
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
    kind: str = UNKNOWN_TYPE  # what X-Type reports


def _choice(fields: Mapping[str, str], name: str) -> str:
    return parse_choice(name, fields.get(name), CHOICES[name], FIELD_DEFAULTS[name])


def _margin(fields: Mapping[str, str]) -> tuple[int, float | None]:
    text = fields.get("crop_margin", FIELD_DEFAULTS["crop_margin"]).strip()
    expected = "one margin like 30px or 10%"
    match = MARGIN.fullmatch(text)
    if match is None:
        raise OptionError(f"crop_margin: expected {expected}, got {shown(text)}")
    value = finite_number("crop_margin", match.group(1), expected)
    if match.group(2) == "%":
        return 0, value
    return _clamped(value), None


def _clamped(margin: float) -> int:
    """A margin in pixels, at most MAX_MARGIN_PX (clamped before rounding: a large finite
    margin times the photo's side can overflow to infinity, which has no rounding)."""
    return round(min(margin, MAX_MARGIN_PX))


def _source(fields: Mapping[str, str]) -> str:
    given = [name for name in SOURCES if fields.get(name)]
    if len(given) != 1:
        got = ", ".join(given) or "none"
        raise OptionError(f"expected exactly one of {', '.join(SOURCES)}, got {got}")
    return given[0]


HEX_COLOR = re.compile(r"#?([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")


def parse_web_color(text: str, name: str) -> Color:
    """remove.bg's ``bg_color``: hex (``81d4fa``, ``#fff``, ``81d4fa77``) or a colour name
    (``green``, CSS names) -> RGBA tuple; ``name`` heads the error."""
    value = text.strip()
    spec = f"#{value.lstrip('#')}" if HEX_COLOR.fullmatch(value) else value.lower()
    try:
        rgb = ImageColor.getrgb(spec)
    except ValueError:
        expected = "expected a hex colour (81d4fa, 81d4fa77) or a colour name"
        raise OptionError(f"{name}: {expected}, got {text!r}") from None
    return (*rgb, 255)[:4] if len(rgb) == 3 else rgb  # type: ignore[return-value]


def _background(fields: Mapping[str, str]) -> tuple[int, int, int, int] | None:
    text = fields.get("bg_color", "").strip()
    return parse_web_color(text, "bg_color") if text else None


def background_source(fields: Mapping[str, str], files: Collection[str] = ()) -> str | None:
    """Which ``bg_`` field carries the background photo, if one does (at most one ``bg_``
    field may be given; ``bg_image_file`` is an upload)."""
    given = [name for name in BACKGROUNDS if fields.get(name) or name in files]
    if len(given) > 1:
        raise OptionError(
            f"expected at most one of {', '.join(BACKGROUNDS)}, got {', '.join(given)}"
        )
    if "bg_image_file" in fields and "bg_image_file" not in files:
        raise OptionError("bg_image_file: expected a file upload (multipart), got a text field")
    return given[0] if given and given[0] != "bg_color" else None


def _shadow(fields: Mapping[str, str]) -> bool:
    """``add_shadow``, or ``shadow_type`` (which wins when given: ``add_shadow=false`` is its
    default, which clients send as a matter of course): drop or none. ``add_shadow=true``
    with ``shadow_type=none`` asks for both."""
    asked = parse_bool("add_shadow", fields.get("add_shadow") or False)
    if not fields.get("shadow_type"):
        return asked
    kind = _choice(fields, "shadow_type")
    if kind in NOT_IMPLEMENTED_SHADOWS:
        raise OptionError(
            f"shadow_type: expected none or {DROP_SHADOW} ({kind} shadows are not implemented"
            f" here), got {shown(fields['shadow_type'])}"
        )
    if asked and kind != DROP_SHADOW:
        raise clash("add_shadow true", f"shadow_type {kind}", f"{kind} draws no shadow")
    return kind == DROP_SHADOW


def _shadow_field(fields: Mapping[str, str]) -> str:
    """The field that asked for the shadow, as the caller wrote it."""
    return f"shadow_type {DROP_SHADOW}" if fields.get("shadow_type") else "add_shadow true"


def _check_clashes(fields: Mapping[str, str], fmt: str, only_mask: bool, shadow: bool) -> None:
    """A matte (``channels=alpha``) or an archive (``format=zip``: the cut-out's colours and
    its matte) with a background or a shadow, or both together, asks for two answers."""
    backgrounds = [name for name in BACKGROUNDS if fields.get(name)]
    drawn = [*backgrounds, *([_shadow_field(fields)] if shadow else [])]
    if fmt == "zip" and only_mask:
        raise clash("format zip", "channels alpha", "the archive holds the colours and the matte")
    if fmt == "zip" and drawn:
        raise clash("format zip", drawn[0], "the archive holds the colours and the matte")
    if only_mask and drawn:
        why = "a matte has no background" if backgrounds else "a matte has no shadow"
        raise clash("channels alpha", drawn[0], why)


def _kind(fields: Mapping[str, str]) -> str:
    """What X-Type reports: the type asked for; ``type_level`` is checked, never used."""
    _choice(fields, "type_level")
    kind = _choice(fields, "type")
    return UNKNOWN_TYPE if kind == "auto" else kind


def _scene(fields: Mapping[str, str], shadow: bool) -> dict[str, object]:
    names = ("roi", "scale", "position", "semitransparency", "shadow_opacity")
    return {"shadow": shadow, **{name: fields.get(name) or None for name in names}}


def removebg_request(fields: Mapping[str, str], bg_image: bytes | None = None) -> RemoveBgRequest:
    """remove.bg's fields (from multipart, a form or JSON) and the background photo's bytes
    (read from ``bg_image_file`` or ``bg_image_url``) -> a parsed request."""
    reject_unknown(fields, (*SOURCES, *USED))
    source = _source(fields)
    size = _choice(fields, "size")
    fmt = _choice(fields, "format")
    only_mask = _choice(fields, "channels") == "alpha"
    background = _background(fields)
    shadow = _shadow(fields)
    _check_clashes(fields, fmt, only_mask, shadow)
    if fmt == "auto":
        opaque = bg_image is not None or (background is not None and background[3] == 255)
        fmt = "jpg" if opaque else "png"
    if fmt == "jpg" and not only_mask and background is None and bg_image is None:
        background = WHITE
    margin, percent = _margin(fields)
    options = build_options({
        "only_mask": only_mask,  # never with zip (_check_clashes), nor a background
        "bgcolor": background,
        "bg_image": bg_image,
        "composite": _choice(fields, "composite"),
        "fmt": "png" if fmt == "zip" else fmt,
        "crop": fields.get("crop"),
        "crop_margin": margin,
        "max_output_pixels": SIZES[size],
        **_scene(fields, shadow),
    })  # fmt: skip
    return RemoveBgRequest(source, fmt, options, percent, _kind(fields))


def with_margin(request: RemoveBgRequest, photo_size: tuple[int, int]) -> OutputOptions:
    """The options with a percent margin turned into pixels of this photo."""
    if request.margin_percent is None or not request.options.crop:
        return request.options
    pixels = _clamped(max(photo_size) * request.margin_percent / 100)
    return dataclasses.replace(request.options, crop_margin=pixels)


def needs_photo_size(request: RemoveBgRequest) -> bool:
    """Whether the photo's size decides the options or what the answer says of them (a crop's
    margin, a region of interest)."""
    return request.options.crop or request.options.roi is not None


def applied_headers(options: OutputOptions, photo_size: tuple[int, int]) -> dict[str, str]:
    """What the documented clamps made of ``crop_margin`` (at most 500 px, a percentage in
    pixels) and ``roi`` (within the photo), in the photo's pixels, written as the fields are.
    A ``roi`` with nothing inside the photo: InvalidRequest."""
    headers = {}
    if options.crop:
        headers[MARGIN_HEADER] = f"{options.crop_margin}px"
    if options.roi is not None:
        headers[ROI_HEADER] = " ".join(f"{edge}px" for edge in roi_box(options.roi, photo_size))
    return headers


def zip_parts(options: OutputOptions) -> dict[str, OutputOptions]:
    """``format=zip``: the colour image (the composite mode's RGB, JPEG) and the matte (PNG).

    Composing over a fully transparent colour keeps each pixel's RGB where alpha > 0."""
    return {
        "color.jpg": dataclasses.replace(options, fmt="jpg", bgcolor=TRANSPARENT),
        "alpha.png": dataclasses.replace(options, fmt="png", only_mask=True, bgcolor=None),
    }
