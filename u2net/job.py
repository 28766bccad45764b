"""One whole cut as two pure steps around the network: ``prepare`` (parameters and bytes in,
the model's input tensor out) and ``complete`` (the mask in, the encoded result out).

The ``cutout`` model runs them inside Triton; ``python -m client cut`` runs the same steps
locally, so both give the same pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from PIL import Image

from u2net.contract import CONTRACT, ServingContract
from u2net.errors import InvalidRequest, OptionError
from u2net.image.framing import Box
from u2net.image.io import check_background, encode, open_rgb
from u2net.image.render import finish, to_model_input
from u2net.image.scene import roi_box
from u2net.options import CutRequest, from_parameters


@dataclass(frozen=True)
class PreparedCut:
    request: CutRequest
    rgb: Image.Image
    batch: np.ndarray  # the model's input, batch of one


@dataclass(frozen=True)
class CutResult:
    data: bytes
    size: tuple[int, int]  # width, height
    box: Box  # left, top, width, height in result pixels


def parse_request(parameters: Mapping[str, object], bg_image: bytes | None = None) -> CutRequest:
    """Request parameters (and a background photo's bytes) -> a parsed request, or
    InvalidRequest saying what was wrong."""
    try:
        return from_parameters(parameters, bg_image)
    except OptionError as e:
        raise InvalidRequest(str(e)) from e


def prepare(
    data: bytes,
    request: CutRequest,
    max_pixels: int,
    contract: ServingContract = CONTRACT,
) -> PreparedCut:
    """Decode (the pixel limit checked from the header first) and resize for the model; a
    background photo's header is checked against the same limit, before the network runs.

    A request may lower ``max_pixels``, never raise it.
    """
    limit = min(max_pixels, request.max_pixels or max_pixels)
    rgb = open_rgb(data, limit)
    if request.options.roi is not None:
        roi_box(request.options.roi, rgb.size)  # nothing of it inside: refused before the network
    if request.options.bg_image:
        check_background(request.options.bg_image, limit)
    return PreparedCut(request, rgb, to_model_input(rgb, contract)[None])


def complete(prepared: PreparedCut, mask: np.ndarray) -> CutResult:
    """The model's mask -> the finished, encoded picture, its size and its foreground box."""
    options = prepared.request.options
    finished = finish(prepared.rgb, mask, options)
    return CutResult(encode(finished.image, options), finished.image.size, finished.box)
