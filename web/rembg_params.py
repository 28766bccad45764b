"""rembg's HTTP parameters (``rembg s``: ``model``, ``a``, ``af``, ``ab``, ``ae``, ``om``,
``ppm``, ``bgc``) -> the ``cutout`` model's options. Pure.

Defaults are rembg's, except the model: U²-Net (``u2net``). rembg's ``dc`` and ``vm`` are
accepted when false (decontamination and ViTMatte are not served); ``extras`` is ignored.
``format`` (png, webp, jpg; default png as rembg) is this gateway's addition for the web UI;
so is ``composite`` (clean, rembg, straight; default ``rembg``: exactly rembg's image), and
``shadow`` (a drop shadow) and the upload ``bg_image`` (a background photo; multipart only).
Bad values raise OptionError naming the field (web answers 400).
"""

from __future__ import annotations

from collections.abc import Mapping

from u2net.catalogue import DEFAULT_MODEL
from u2net.errors import OptionError
from u2net.image.compositing import REMBG
from u2net.options import BG_IMAGE, OutputOptions, build_options
from u2net.options import OPTIONS as TABLE
from u2net.values import parse_bool, reject_unknown

FILE_FIELD = "file"
URL_FIELD = "url"
MODEL_FIELD = "model"
BG_IMAGE_FIELD = BG_IMAGE  # an upload beside the photo (the web UI's background picker)
# rembg's HTTP name -> the option it sets: the options of u2net.options.OPTIONS offered here
OPTIONS = {o.http_name: o.field for o in TABLE if o.on_rembg_api}
UNSERVED = ("dc", "vm")
OPTION_FIELDS = (
    MODEL_FIELD,
    *(name for name in OPTIONS if name != BG_IMAGE_FIELD),
    *UNSERVED,
    "extras",
)
DEFAULT_COMPOSITE = REMBG  # rembg's own image, where rembg's API is promised


def rembg_options(
    fields: Mapping[str, str],
    file_field: str,
    default_model: str = DEFAULT_MODEL,
    bg_image: bytes | None = None,
) -> tuple[str, OutputOptions]:
    """Form/query fields (and a background photo's bytes) -> (model, options)."""
    uploads = (file_field, BG_IMAGE_FIELD) if bg_image else (file_field,)
    reject_unknown(fields, (*uploads, *OPTION_FIELDS))
    for unserved in UNSERVED:
        if parse_bool(unserved, fields.get(unserved, False)):
            raise OptionError(f"{unserved}: expected false (not served here), got true")
    composite = fields.get("composite") or DEFAULT_COMPOSITE
    values = {**fields, "composite": composite, BG_IMAGE_FIELD: bg_image}
    return fields.get(MODEL_FIELD) or default_model, build_options(values, OPTIONS)
