"""rembg's HTTP parameters (``rembg s``: ``model``, ``a``, ``af``, ``ab``, ``ae``, ``om``,
``ppm``, ``bgc``) -> the ``cutout`` model's options. Pure.

Defaults are rembg's, except the model: U²-Net (``u2net``). rembg's ``dc`` and ``vm`` are
accepted when false (decontamination and ViTMatte are not served); ``extras`` is ignored.
``format`` (png, webp, jpg; default png as rembg) is this gateway's addition for the web UI.
"""

from __future__ import annotations

from collections.abc import Mapping

from u2net.catalogue import DEFAULT_MODEL
from u2net.matting import MattingOptions
from u2net.options import FORMATS, OutputOptions, parse_color
from web.errors import BadRequest
from web.fields import parse_bool, parse_int, reject_unknown

FILE_FIELD = "file"
URL_FIELD = "url"
OPTION_FIELDS = ("model", "a", "af", "ab", "ae", "om", "ppm", "bgc", "dc", "vm", "extras", "format")


def _matting(fields: Mapping[str, str]) -> MattingOptions | None:
    if not parse_bool("a", fields.get("a", "false")):
        return None
    d = MattingOptions()
    return MattingOptions(
        foreground_threshold=parse_int("af", fields.get("af", d.foreground_threshold), 0, 255),
        background_threshold=parse_int("ab", fields.get("ab", d.background_threshold), 0, 255),
        erode_size=parse_int("ae", fields.get("ae", d.erode_size), 0, 255),
    )


def _bgcolor(text: str | None) -> tuple[int, int, int, int] | None:
    if not text:
        return None
    try:
        return parse_color(text)
    except ValueError as e:
        raise BadRequest(f"bgc: {e}") from e


def rembg_options(
    fields: Mapping[str, str], file_field: str, default_model: str = DEFAULT_MODEL
) -> tuple[str, OutputOptions]:
    """Form/query fields -> (model, options); BadRequest naming the field otherwise."""
    reject_unknown(fields, (file_field, *OPTION_FIELDS))
    for unserved in ("dc", "vm"):
        if parse_bool(unserved, fields.get(unserved, "false")):
            raise BadRequest(f"{unserved}: expected false (not served here), got true")
    fmt = fields.get("format", "png").lower()
    if fmt not in FORMATS:
        raise BadRequest(f"format: expected one of {', '.join(FORMATS)}, got {fmt[:20]!r}")
    try:
        options = OutputOptions(
            only_mask=parse_bool("om", fields.get("om", "false")),
            bgcolor=_bgcolor(fields.get("bgc")),
            post_process=parse_bool("ppm", fields.get("ppm", "false")),
            matting=_matting(fields),
            fmt=fmt,
        )
    except ValueError as e:
        raise BadRequest(str(e)) from e
    return fields.get("model") or default_model, options
