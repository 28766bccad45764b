"""Bad input: 400 with one clear line, in the API's own shape, never a traceback; the service
carries on."""

from __future__ import annotations

import base64

import pytest
from PIL import Image

from tests.bad_files import BAD_FILES, png_bomb_bytes
from tests.data import PHOTOS
from tests.web.serving import MODEL, until_models_learned

PHOTO = PHOTOS[1]
DEPTH = 10_000  # JSON nested deeper than Python's recursion limit


def short(value: str) -> str:
    """A test id for a value, which may be thousands of characters."""
    return value if len(value) <= 24 else f"{value[:8]}...{value[-8:]}({len(value)})"


def one_line(text: str) -> None:
    assert "\n" not in text and "Traceback" not in text and text.strip(), text


def rembg_error(response) -> str:
    assert response.status_code == 400, (response.status_code, response.text)
    detail = response.json()["detail"]
    one_line(detail)
    return detail


def removebg_error(response) -> str:
    assert response.status_code == 400, (response.status_code, response.text)
    (error,) = response.json()["errors"]
    one_line(error["title"])
    assert error["code"]
    return error["title"]


@pytest.mark.parametrize("key", [k for k in BAD_FILES if not k.startswith("pixel-bomb")])
def test_bad_files_answer_400_on_both_apis(http, key) -> None:
    name, content, says = BAD_FILES[key]
    rembg = http.post("/api/remove", files={"file": (name, content)}, data={"model": MODEL})
    assert says in rembg_error(rembg).lower()
    removebg = http.post("/v1.0/removebg", files={"image_file": (name, content)})
    assert says in removebg_error(removebg).lower()


REMBG_CASES = [
    pytest.param(
        {"image": PHOTO.read_bytes()},
        {},
        "expected a multipart file field 'file'",
        id="wrong-field-name",
    ),
    pytest.param({"file": PHOTO.read_bytes()}, {"bgc": "red"}, "bgc: expected R,G,B", id="bad-bgc"),
    pytest.param({"file": PHOTO.read_bytes()}, {"bgc": "1,2,300"}, "bgc: expected", id="bgc-300"),
    pytest.param(
        {"file": PHOTO.read_bytes()},
        {"format": "gif"},
        "format: expected one of",
        id="unknown-format",
    ),
    pytest.param(
        {"file": PHOTO.read_bytes()},
        {"af": "300", "a": "true"},
        "af: expected 0..255",
        id="af-out-of-range",
    ),
    pytest.param(
        {"file": PHOTO.read_bytes()},
        {"af": "1" * 5000, "a": "true"},
        "af: expected 0..255, got a number of 5,000 digits",
        id="af-of-5000-digits",
    ),
    pytest.param(
        {"file": PHOTO.read_bytes()}, {"om": "maybe"}, "om: expected true or false", id="bad-bool"
    ),
    pytest.param({"file": PHOTO.read_bytes()}, {"colour": "1"}, "got 'colour'", id="unknown-field"),
    pytest.param(
        {"file": PHOTO.read_bytes()},
        {"format": "jpg"},
        "format jpg has no alpha",
        id="jpg-without-bgc",
    ),
]


@pytest.mark.parametrize(("files", "fields", "says"), REMBG_CASES)
def test_rembg_bad_requests(http, files, fields, says) -> None:
    response = http.post(
        "/api/remove",
        files={k: ("p.png", v) for k, v in files.items()},
        data={"model": MODEL, **fields},
    )
    assert says in rembg_error(response)


def test_rembg_post_without_multipart_body(http) -> None:
    assert "expected a multipart file field" in rembg_error(http.post("/api/remove", json={}))


REMOVEBG_CASES = [
    pytest.param({"image": "x"}, "expected fields from", id="wrong-field-name"),
    pytest.param({"size": "full"}, "expected exactly one of image_file", id="no-source"),
    pytest.param({"image_file_b64": "@@@"}, "image_file_b64: expected base64", id="bad-base64"),
    pytest.param(
        {"image_file_b64": "aGVsbG8=", "bg_color": "nocolour"},
        "bg_color: expected",
        id="bad-bg-color",
    ),
    pytest.param(
        {"image_file_b64": "aGVsbG8=", "format": "gif"},
        "format: expected one of",
        id="unknown-format",
    ),
    pytest.param(
        {"image_file_b64": "aGVsbG8=", "size": "huge"}, "size: expected one of", id="unknown-size"
    ),
    pytest.param(
        {"image_file_b64": "aGVsbG8=", "crop_margin": "1px 2px"},
        "crop_margin",
        id="multi-value-margin",
    ),
    pytest.param(
        {"image_file_b64": "aGVsbG8=", "image_url": "http://example.com/x.jpg"},
        "expected exactly one of",
        id="two-sources",
    ),
    pytest.param({"image_file_b64": "aGVsbG8="}, "not an image", id="base64-of-text"),
    pytest.param(
        {"image_url": "http://example.com/x.jpg"}, "--allow-url-fetch", id="url-fetch-off"
    ),
]
B64 = {"image_file_b64": "aGVsbG8="}
COMPOSITION_CASES = [  # (field, value, the start of the one line that answers it)
    ("scale", "5%", "scale: expected original or 10%..100%, got '5%'"),
    ("position", "left", "position: expected original, center, X% or X% Y%"),
    ("roi", "1 2 3", "roi: expected 4 lengths like 10px or 25%"),
    ("add_shadow", "maybe", "add_shadow: expected true or false, got 'maybe'"),
    ("shadow_type", "car", "shadow_type: expected none or drop (car shadows are not implemented"),
    ("shadow_type", "3D", "shadow_type: expected none or drop (3d shadows are not implemented"),
    ("shadow_type", "soft", "shadow_type: expected one of none, drop, car, 3d, got 'soft'"),
    ("shadow_opacity", "200", "shadow_opacity: expected 0..100, got 200"),
    ("shadow_opacity", "1" * 5000, "shadow_opacity: expected 0..100, got a number of 5,000 digits"),
    ("crop_margin", "1" * 400 + "px", "crop_margin: expected one margin like 30px or 10%, got a"),
    ("crop_margin", "1" * 400 + "%", "crop_margin: expected one margin like 30px or 10%, got a"),
    (
        "roi",
        f"0 0 {'1' * 400}px 100%",
        "roi: expected 4 lengths like 10px or 25% (at most 100%), got a number too large",
    ),
    ("semitransparency", "x", "semitransparency: expected true or false, got 'x'"),
    ("type", "cat", "type: expected one of auto, person, product"),
    ("type_level", "3", "type_level: expected one of 1, none, 2, latest, got '3'"),
    ("bg_image_file", "aGVsbG8=", "bg_image_file: expected a file upload (multipart)"),
    ("bg_image_url", "http://example.com/b.jpg", "bg_image_url: fetching images by URL is off"),
]
COMPOSITION_PAIRS = [
    ({"bg_color": "fff", "bg_image_url": "http://example.com/b.jpg"}, "expected at most one of"),
    ({"format": "zip", "add_shadow": "true"}, "format zip and add_shadow true: expected one of"),
]
REMOVEBG_CASES += [
    pytest.param({**B64, field: value}, says, id=f"{field}={short(value)}")
    for field, value, says in COMPOSITION_CASES
] + [pytest.param({**B64, **fields}, says, id=says) for fields, says in COMPOSITION_PAIRS]


@pytest.mark.parametrize(("fields", "says"), REMOVEBG_CASES)
def test_removebg_bad_requests_as_json(http, fields, says) -> None:
    assert says in removebg_error(http.post("/v1.0/removebg", json=fields))


@pytest.mark.parametrize(
    ("body", "content_type", "says"),
    [
        pytest.param(b"{not json", "application/json", "malformed JSON", id="malformed-json"),
        pytest.param(b"[1, 2]", "application/json", "expected an object, got list", id="json-list"),
        pytest.param(
            b'{"image_file_b64": {"a": 1}}', "application/json", "plain values", id="nested-json"
        ),
        pytest.param(
            b"[" * DEPTH + b"]" * DEPTH, "application/json", "nesting too deep", id="json-deep"
        ),
        pytest.param(
            b'{"image_file_b64": ' + b"[" * DEPTH + b"]" * DEPTH + b"}",
            "application/json",
            "nesting too deep",
            id="json-deep-in-a-field",
        ),
        pytest.param(
            b'{"image_file_b64": "aGVsbG8=", "shadow_opacity": ' + b"1" * 5000 + b"}",
            "application/json",
            "shadow_opacity: expected 0..100, got a number of 5,000 digits",
            id="json-number-of-5000-digits",
        ),
        pytest.param(b"plain", "text/plain", "expected a body of", id="text-body"),
        pytest.param(b"--x\r\nbroken", "multipart/form-data", "malformed form", id="no-boundary"),
    ],
)
def test_removebg_malformed_bodies(http, body, content_type, says) -> None:
    response = http.post("/v1.0/removebg", content=body, headers={"Content-Type": content_type})
    assert says in removebg_error(response)


def test_a_percent_margin_too_large_for_the_photo_is_the_largest_margin(http) -> None:
    """A margin of 10^308 % of the photo's side overflowed to infinity before the 500 px
    clamp (a 500): it is 500 px, which keeps the whole of this 451x300 photo."""
    photo = base64.b64encode(PHOTO.read_bytes()).decode()
    fields = {"image_file_b64": photo, "size": "full", "crop": True, "crop_margin": "9" * 308 + "%"}
    response = http.post("/v1.0/removebg", json=fields)
    assert response.status_code == 200, response.text
    with Image.open(PHOTO) as image:
        assert (response.headers["X-Width"], response.headers["X-Height"]) == tuple(
            map(str, image.size)
        )


def test_the_service_carries_on_after_bad_input(http) -> None:
    for _ in range(3):
        http.post("/api/remove", files={"file": ("x.jpg", b"junk")}, data={"model": MODEL})
    response = http.post(
        "/api/remove", files={"file": (PHOTO.name, PHOTO.read_bytes())}, data={"model": MODEL}
    )
    assert response.status_code == 200 and response.content[:4] == b"\x89PNG"


def test_pixel_bomb_is_refused_from_its_header(triton_server) -> None:
    from tests.web.serving import config_for, serve

    with (
        serve(config_for(triton_server.grpc_url, max_pixels=1_000_000)) as served,
        served.client() as c,
    ):
        response = c.post(
            "/api/remove",
            files={"file": ("bomb.png", png_bomb_bytes(2000, 1000))},
            data={"model": MODEL},
        )
        assert "expected at most 1,000,000 pixels, got 2000x1000" in rembg_error(response)
        background = c.post(
            "/api/remove",
            files={
                "file": (PHOTO.name, PHOTO.read_bytes()),
                "bg_image": ("bomb.png", png_bomb_bytes(2000, 1000)),
            },
            data={"model": MODEL},
        )
        says = "background image: expected at most 1,000,000 pixels, got 2000x1000"
        assert says in rembg_error(background)
        ok = c.post(
            "/api/remove", files={"file": (PHOTO.name, PHOTO.read_bytes())}, data={"model": MODEL}
        )
        assert ok.status_code == 200  # 451x300 is within the limit


def test_a_model_the_server_has_not_loaded_is_400(http) -> None:
    """The session's Triton serves u2netp only: u2net is refused as bad input (not retried
    as if Triton were restarting), once the gateway's probe has seen what is loaded."""
    state = until_models_learned(http)
    assert state["models"] == [f"{MODEL}_onnx"]
    photo = {"file": (PHOTO.name, PHOTO.read_bytes())}
    for requested in ("u2net", "isnet-general-use", "nobody"):  # catalogued, and not
        says = rembg_error(http.post("/api/remove", files=photo, data={"model": requested}))
        # not every catalogued name (u2net_trt, u2netp_int8...): only what is loaded
        loaded = f"{MODEL}, {MODEL}_onnx"
        assert says == f"model: expected one this server has loaded ({loaded}), got {requested!r}"
    assert "failing_for_s" not in http.get("/readyz").json()["triton"]  # no outage counted
