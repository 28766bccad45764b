"""The gateway's memory budget end to end: a photo whose cut could never fit is refused
with 413 before it waits, saying the largest size that would, and that size is served."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from tests.data import PHOTOS
from tests.web.serving import MODEL, config_for, serve
from web.cli import build_parser, make_config
from web.config import MB, MEMORY_BUDGET_ENV

BUDGET_MB = 96  # a 0.26 MP photo's cut fits, a 12 MP one's does not
FITS = re.compile(r"expected at most ([\d,]+) pixels \((\d+)x(\d+) at this aspect\)")


@pytest.fixture(scope="module")
def tight(triton_server):
    config = config_for(triton_server.grpc_url, memory_budget_bytes=BUDGET_MB * MB)
    with serve(config) as served:
        yield served


def jpeg(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.open(PHOTOS[0]).convert("RGB").resize(size).save(buffer, format="JPEG")
    return buffer.getvalue()


def post(served, route: str, photo: bytes):
    with served.client() as client:
        if route == "/api/remove":
            return client.post(route, files={"file": ("a.jpg", photo)}, data={"model": MODEL})
        return client.post(route, files={"image_file": ("a.jpg", photo)}, data={"size": "full"})


@pytest.mark.parametrize("route", ["/api/remove", "/v1.0/removebg"])
def test_a_photo_that_could_never_fit_is_413_with_the_size_that_would(tight, route) -> None:
    refused = post(tight, route, jpeg((4000, 3000)))
    assert refused.status_code == 413, refused.text
    line = refused.text
    assert "got 4000x3000 = 12,000,000; send it smaller" in line
    width, height = map(int, FITS.search(line).groups()[1:])
    assert 0.74 < width / 4000 * 3000 / height < 1.35 and width < 4000  # its aspect, smaller
    assert post(tight, route, jpeg((width, height))).status_code == 200


def test_the_flag_and_its_environment_variable_set_the_budget(monkeypatch) -> None:
    def budget(*argv: str) -> int:
        args = build_parser().parse_args(list(argv))
        return make_config(args, "127.0.0.1:1", frozenset()).memory_budget_bytes

    monkeypatch.setenv(MEMORY_BUDGET_ENV, "512")
    assert budget() == 512 * MB
    assert budget("--memory-budget-mb", "64") == 64 * MB
    monkeypatch.delenv(MEMORY_BUDGET_ENV)
    assert budget() == 2048 * MB
