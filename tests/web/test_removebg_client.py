"""A real remove.bg client library (PyPI's ``removebg``) works by changing its base URL."""

from __future__ import annotations

import base64
import shutil

import pytest

from tests.data import PHOTOS

removebg = pytest.importorskip("removebg.removebg", reason="pip install removebg (test extra)")


def test_the_removebg_library_pointed_at_the_gateway(gateway, http, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(removebg, "API_ENDPOINT", f"{gateway.url}/v1.0/removebg")
    photo = tmp_path / PHOTOS[3].name
    shutil.copy(PHOTOS[3], photo)
    client = removebg.RemoveBg("any-key", str(tmp_path / "errors.log"))

    client.remove_background_from_img_file(str(photo), size="regular")
    direct = http.post(
        "/v1.0/removebg",
        files={"image_file": (photo.name, photo.read_bytes())},
        data={"size": "regular"},
    )
    assert (tmp_path / f"{photo.name}_no_bg.png").read_bytes() == direct.content

    out = tmp_path / "b64.png"
    encoded = base64.b64encode(photo.read_bytes()).decode()
    client.remove_background_from_base64_img(encoded, size="hd", new_file_name=str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        out.read_bytes()
        == http.post("/v1.0/removebg", data={"image_file_b64": encoded, "size": "hd"}).content
    )
