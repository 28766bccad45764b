"""What the web UI reads besides cut-outs: ``Server-Timing`` on the API's answers, the
models' measurements (``/api/models``), two models' agreement (``/api/ab``); and the page
itself: one static page, nothing fetched from elsewhere, under 300 kB."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.data import PHOTOS
from tests.web.serving import MODEL, config_for, serve
from u2net.agreement import compare_masks, difference
from u2net.catalogue import REQUEST_NAMES
from u2net.contract import FAMILY_CONTRACTS, ISNET_FAMILY, U2NET_FAMILY
from u2net.image.io import open_rgb
from u2net.repository.layout import REPOSITORY_ENV
from web.app import STATIC
from web.ui_api import ab_answer, measured, model_inputs

PHOTO = PHOTOS[1]  # chelsea.png, 451×300
PAGE_LIMIT_BYTES = 300_000
SPAN = re.compile(r'^(\w+);dur=(\d+\.\d);desc="[^"]+"$')


def spans(value: str | None) -> dict[str, float]:
    """``Server-Timing``'s spans by name; every part in the form the gateway writes."""
    assert value, "no Server-Timing header"
    found = {}
    for part in value.split(", "):
        match = SPAN.match(part)
        assert match, part
        found[match[1]] = float(match[2])
    return found


def test_both_apis_answer_with_their_server_time_and_tritons_part(http) -> None:
    photo = PHOTO.read_bytes()
    rembg = http.post("/api/remove", files={"file": (PHOTO.name, photo)}, data={"model": MODEL})
    removebg = http.post("/v1.0/removebg", files={"image_file": (PHOTO.name, photo)})
    for answer in (rembg, removebg):
        assert answer.status_code == 200
        timing = spans(answer.headers["server-timing"])
        assert list(timing) == ["cutout", "total"]
        assert 0 < timing["cutout"] <= timing["total"]


def test_an_error_has_the_gateways_time_and_other_routes_none(http) -> None:
    refused = http.post("/api/remove", data={"model": MODEL})
    assert refused.status_code == 400
    assert list(spans(refused.headers["server-timing"])) == ["total"]  # Triton never asked
    assert "server-timing" not in http.get("/readyz").headers
    assert "server-timing" not in http.get("/").headers


def test_a_cross_origin_page_may_read_server_timing(triton_server) -> None:
    origin = "https://ui.example.test"
    config = config_for(triton_server.grpc_url, cors_origins=(origin,))
    with serve(config) as served, served.client() as client:
        answer = client.get("/api/models", headers={"Origin": origin})
    exposed = answer.headers["access-control-expose-headers"].split(", ")
    assert "Server-Timing" in exposed


def test_the_models_need_no_key_and_ab_does(triton_server) -> None:
    """The page lists the models before anyone typed a key; comparing them is a cut's work."""
    config = config_for(triton_server.grpc_url, api_keys=frozenset({"k3y"}))
    with serve(config) as served, served.client() as client:
        assert client.get("/api/models").status_code == 200
        fields = {"model_a": MODEL, "model_b": MODEL}
        refused = client.post("/api/ab", files={"file": (PHOTO.name, b"x")}, data=fields)
    assert refused.status_code == 403 and "missing API key" in refused.json()["detail"]


INT8_MANIFEST = {
    "model": "u2net",
    "variant": "u2net_int8",
    "speed": {"fp32_ms": 822.1, "int8_ms": 432.4, "speedup": 1.9, "runs": 10},
    "held_out": {
        "photos": [{"name": "rocket.jpg"}, {"name": "coins.png"}],
        "inside_floor": 2,
        "worst_iou": 0.9328,
        "worst_mean_abs_diff": 5.045,
    },
}


def test_the_models_carry_what_their_manifests_measured(http, tmp_path, monkeypatch) -> None:
    """The int8 variant's speed and agreement from its manifest; fp32's manifest measured
    nothing; a model with no manifest here has no measurement."""
    for served, manifest in [("u2net_int8", INT8_MANIFEST), ("u2netp_onnx", {"model": "u2netp"})]:
        folder = tmp_path / served / "1"
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv(REPOSITORY_ENV, str(tmp_path))
    models = {m["name"]: m for m in http.get("/api/models").json()["models"]}
    assert list(models) == list(REQUEST_NAMES)
    assert models["u2net_int8"]["measured"] == {
        "speedup": 1.9, "ms": 432.4, "reference_ms": 822.1,
        "photos": 2, "inside_floor": 2, "worst_iou": 0.9328,
    }  # fmt: skip
    assert [n for n, m in models.items() if m["measured"] is not None] == ["u2net_int8"]
    assert models["u2netp"]["label"].startswith("u2netp: ")


CUSTOM_MANIFESTS = {  # as `python -m convert custom` writes them; the last is not custom
    "mine_onnx": {"model": "mine", "family": "isnet", "custom": True},
    "my-u2_onnx": {"model": "my-u2", "family": "u2net", "custom": True},
    "u2netp_onnx": {"model": "u2netp", "family": "u2net"},
}


def test_the_custom_models_staged_here_come_after_the_catalogues(http, tmp_path, monkeypatch):
    for served, manifest in CUSTOM_MANIFESTS.items():
        folder = tmp_path / served / "1"
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv(REPOSITORY_ENV, str(tmp_path))
    models = http.get("/api/models").json()["models"]
    assert [m["name"] for m in models] == [*REQUEST_NAMES, "mine", "my-u2"]
    assert models[-2:] == [
        {"name": "mine", "label": "mine (custom, isnet family)", "measured": None,
         "family": "isnet", "custom": True},
        {"name": "my-u2", "label": "my-u2 (custom, u2net family)", "measured": None,
         "family": "u2net", "custom": True},
    ]  # fmt: skip
    families = {m["name"]: m["family"] for m in models if not m["custom"]}
    assert families["isnet-anime"] == "isnet" and families["u2net_int8"] == "u2net"


def test_a_manifest_without_both_measurements_measured_nothing() -> None:
    assert measured(None) is None
    assert measured({"speed": {"speedup": 2.0}}) is None
    assert measured({"held_out": {"photos": []}, "speed": "fast"}) is None


def mask_png(text: str) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(text))) as image:
        assert image.mode == "L"
        return np.asarray(image)


def test_ab_of_one_model_under_two_names_agrees_exactly(http) -> None:
    """u2netp and u2netp_onnx are the same served model: IoU 1, no difference anywhere; the
    answer names what each request resolved to and times both."""
    answer = http.post(
        "/api/ab",
        files={"file": (PHOTO.name, PHOTO.read_bytes())},
        data={"model_a": "u2netp", "model_b": "u2netp_onnx"},
    )
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["model_a"] == {"model": "u2netp", "served": "u2netp_onnx"}
    assert found["model_b"] == {"model": "u2netp_onnx", "served": "u2netp_onnx"}
    assert (found["iou"], found["mean_abs_diff"], found["max_abs_diff"]) == (1.0, 0.0, 0)
    assert found["mask_size"] == [320, 320]
    assert not mask_png(found["difference_png"]).any()
    assert list(spans(answer.headers["server-timing"])) == ["infer_a", "infer_b", "total"]


@pytest.mark.parametrize(
    ("files", "data", "says"),
    [
        ({}, {"model_a": "u2netp", "model_b": "u2netp"}, "expected the fields file, model_a"),
        (None, {"model_a": "u2netp", "model_b": "u2netp", "om": "true"}, "got file, model_a"),
        (None, {"model_a": "u2netp", "model_b": "../u2netp"}, "model_b: expected a model name"),
        (None, {"model_a": "u2netp"}, "model_b: expected a model name (u2net, "),
        (None, {"model_a": "u2net", "model_b": "u2netp"},
         "model_a: expected one this server has loaded"),
        (None, {"model_a": "u2netp", "model_b": "rembg"},  # could be a custom model's: not here
         "model_b: expected one this server has loaded (u2netp, u2netp_onnx), got 'rembg'"),
        ({"file": ("notes.jpg", b"not a photo\n")}, {"model_a": "u2netp", "model_b": "u2netp"},
         "not an image"),
    ],
)  # fmt: skip
def test_ab_refuses_what_it_cannot_compare_in_one_line(http, files, data, says) -> None:
    if files is None:
        files = {"file": (PHOTO.name, PHOTO.read_bytes())}
    answer = http.post("/api/ab", files=files or {"x": ("x", b"")}, data=data)
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert says in detail and "\n" not in detail


@pytest.mark.parametrize(("a", "b"), [(320, 1024), (1024, 320)])
def test_masks_of_two_sizes_are_compared_on_as_grid(a: int, b: int) -> None:
    """B's mask resized onto A's grid with Pillow's LANCZOS; the answer says both sizes."""
    rng = np.random.default_rng(a)
    masks = [rng.integers(0, 256, (size, size), dtype=np.uint8) for size in (a, b)]
    names = {"model_a": ("u2net", "u2net_onnx"), "model_b": ("mine", "mine_onnx")}
    found = ab_answer(names, masks)
    on_a = np.asarray(Image.fromarray(masks[1]).resize((a, a), Image.Resampling.LANCZOS))
    expected = compare_masks(masks[0], on_a)
    got = (found["iou"], found["mean_abs_diff"], found["max_abs_diff"])
    assert got == (expected.iou, expected.mean_abs_diff, expected.max_abs_diff)
    assert (found["mask_size"], found["b_mask_size"]) == ([a, a], [b, b])
    np.testing.assert_array_equal(mask_png(found["difference_png"]), difference(masks[0], on_a))


def test_each_model_gets_the_photo_at_its_size_one_array_per_size() -> None:
    u2net, isnet = FAMILY_CONTRACTS[U2NET_FAMILY], FAMILY_CONTRACTS[ISNET_FAMILY]
    rgb = open_rgb(PHOTO)
    found = model_inputs(rgb, [u2net, isnet, u2net])
    assert [f.shape for f in found] == [(1, 320, 320, 3), (1, 1024, 1024, 3), (1, 320, 320, 3)]
    assert found[0] is found[2]  # built once for both models of that size
    expected = rgb.resize((1024, 1024), Image.Resampling.LANCZOS)
    np.testing.assert_array_equal(found[1][0], np.asarray(expected))


def test_the_difference_is_what_compare_masks_averages() -> None:
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (40, 30), dtype=np.uint8) for _ in range(2))
    found = difference(a, b)
    assert found.dtype == np.uint8 and found.shape == (40, 30)
    assert found.mean() == pytest.approx(compare_masks(a, b).mean_abs_diff)
    assert int(found.max()) == compare_masks(a, b).max_abs_diff
    with pytest.raises(ValueError, match="mask shapes differ"):
        difference(a, b[:10])


PAGE_FILES = ("index.html", "app.js", "style.css")


def test_the_page_is_one_static_page_under_300_kB_with_nothing_from_elsewhere() -> None:
    files = sorted(p.name for p in Path(STATIC).iterdir())
    assert files == sorted(PAGE_FILES)
    assert sum((STATIC / name).stat().st_size for name in PAGE_FILES) < PAGE_LIMIT_BYTES
    html = (STATIC / "index.html").read_text()
    loaded = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', html)
    assert sorted(loaded) == ["/static/app.js", "/static/style.css"]
    for name in ("app.js", "style.css"):
        assert not re.search(r"https?://|@import|\bimport\s*\(", (STATIC / name).read_text()), name
