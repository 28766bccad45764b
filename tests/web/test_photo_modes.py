"""Deep and phone photos through both HTTP APIs: a 16-bit grey PNG and a HEIC give the mask of
the 8-bit photo they hold (within 1 grey level), not a clipped picture's."""

from __future__ import annotations

import io
from collections.abc import Callable

import httpx
import numpy as np
import pytest
from PIL import Image

from tests import photo_modes
from tests.data import PHOTOS
from tests.web.serving import MODEL

PHOTO = PHOTOS[0]
API = {  # each API's way to ask for the mask alone, at the photo's size
    "rembg": ("/api/remove", "file", {"om": "true", "model": MODEL}),
    "remove.bg": ("/v1.0/removebg", "image_file", {"channels": "alpha", "size": "full"}),
}
INPUTS: dict[str, Callable[[Image.Image], bytes]] = {
    "16-bit-grey-png": photo_modes.grey16_png,
    "heic": photo_modes.heic,
}


def _mask(http: httpx.Client, api: str, data: bytes) -> np.ndarray:
    path, field, fields = API[api]
    answer = http.post(path, files={field: ("photo", data)}, data=fields)
    assert answer.status_code == 200, answer.text
    return np.asarray(Image.open(io.BytesIO(answer.content)).convert("L"), dtype=np.int16)


@pytest.mark.parametrize("kind", list(INPUTS))
@pytest.mark.parametrize("api", list(API))
def test_the_deep_or_heic_photo_gives_the_8_bit_photos_mask(http, api: str, kind: str) -> None:
    with Image.open(PHOTO) as opened:
        rgb = opened.convert("RGB")
    eight = rgb.convert("L") if kind.startswith("16-bit-grey") else rgb
    buffer = io.BytesIO()
    eight.save(buffer, format="PNG")
    expected = _mask(http, api, buffer.getvalue())
    got = _mask(http, api, INPUTS[kind](rgb))
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1
    assert expected.max() > 200 and expected.min() < 50  # a real mask, not a flat one
