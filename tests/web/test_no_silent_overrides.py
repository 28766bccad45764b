"""No silent overrides, and messages for the person who reads them (issue 34), on the real
gateway and Triton: a reversed or empty ``roi``, a field given twice and options that
contradict each other are 400s naming the fields; the documented clamps are said in the
answer's headers; errors speak the API's own words and name only our limits."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.bad_files import png_bomb_bytes, wide_png_bytes
from tests.data import PHOTOS
from tests.web.serving import MODEL
from tests.web.test_bad_input import rembg_error, removebg_error

PHOTO = PHOTOS[1]  # 451x300
WIDTH, HEIGHT = 451, 300
ENDPOINT = "/v1.0/removebg"
# what no answer to an HTTP client may say: a server flag, a CLI option, Pillow's wording
NOT_OURS = ("--max-pixels", "max_output_pixels", "Pillow", "DOS", "decompression")


def photo_file() -> tuple[str, bytes]:
    return (PHOTO.name, PHOTO.read_bytes())


def removebg(http, fields: dict[str, str], **files: tuple[str, bytes]):
    return http.post(ENDPOINT, files={"image_file": photo_file(), **files}, data=fields)


def test_the_photo_is_the_size_the_headers_are_checked_against() -> None:
    with Image.open(PHOTO) as image:
        assert image.size == (WIDTH, HEIGHT)


@pytest.mark.parametrize(
    ("roi", "says"),
    [
        ("400 400 100 100", "roi: expected x1 < x2 and y1 < y2 (a region), got '400 400 100 100'"),
        ("10 10 10 10", "roi: expected x1 < x2 and y1 < y2 (a region), got '10 10 10 10'"),
        ("50% 0% 10% 100%", "roi: expected x1 < x2 and y1 < y2 (a region), got '50% 0% 10% 100%'"),
        # pixels against percent: known at the photo's size (451 px: 50% is 226 px)
        ("300px 0 50% 100%", f"inside the {WIDTH}x{HEIGHT} image, got '300px 0px 50% 100%'"),
        ("1000px 0 2000px 100%", f"inside the {WIDTH}x{HEIGHT} image"),
    ],
    ids=["reversed", "zero-area", "reversed-percent", "reversed-mixed", "outside"],
)
def test_a_roi_with_nothing_inside_is_400(http, roi, says) -> None:
    assert says in removebg_error(removebg(http, {"roi": roi}))


def test_a_second_image_file_part_is_400(http) -> None:
    files = [("image_file", photo_file()), ("image_file", ("other.png", png_bomb_bytes(9, 9)))]
    says = removebg_error(http.post(ENDPOINT, files=files))
    assert says == "image_file: expected the field once, got it 2 times"


def test_a_field_given_twice_in_a_form_is_400(http) -> None:
    body = "image_file_b64=aGVsbG8%3D&size=full&size=preview"
    response = http.post(
        ENDPOINT, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert removebg_error(response) == "size: expected the field once, got it 2 times"


def test_a_key_given_twice_in_a_json_body_is_400(http) -> None:
    body = '{"image_file_b64": "aGVsbG8=", "size": "full", "size": "preview"}'
    response = http.post(ENDPOINT, content=body, headers={"Content-Type": "application/json"})
    assert (
        removebg_error(response) == "size: expected the field once in the JSON body, got it 2 times"
    )


@pytest.mark.parametrize(
    ("query", "data", "says"),
    [
        ("?om=true&om=false", {}, "om: expected the field once in the query, got it 2 times"),
        ("?bgc=0,0,0", {"bgc": "255,0,0"}, "bgc: expected the field once (in the query or"),
        ("", {"om": ["true", "false"]}, "om: expected the field once, got it 2 times"),
    ],
    ids=["twice-in-the-query", "query-and-body", "twice-in-the-body"],
)
def test_rembg_fields_given_twice_are_400(http, query, data, says) -> None:
    response = http.post(
        f"/api/remove{query}", files={"file": photo_file()}, data={"model": MODEL, **data}
    )
    assert rembg_error(response).startswith(says)


def test_rembg_get_with_a_field_twice_is_400(http) -> None:
    response = http.get("/api/remove?url=http://example.com/x.jpg&a=true&a=false")
    assert rembg_error(response) == "a: expected the field once in the query, got it 2 times"


BACKGROUND = ("background.jpg", PHOTOS[2].read_bytes())


@pytest.mark.parametrize(
    ("fields", "files", "says"),
    [
        ({"om": "true"}, {"bg_image": BACKGROUND}, "om and bg_image: expected one of them"),
        ({"om": "true", "bgc": "0,0,0,255"}, {}, "om and bgc: expected one of them, got both"),
        ({"om": "true", "shadow": "true"}, {}, "om and shadow: expected one of them, got both"),
        ({"bgc": "0,0,0,255"}, {"bg_image": BACKGROUND}, "bgc and bg_image: expected one of"),
    ],
    ids=["om-bg-image", "om-bgc", "om-shadow", "bgc-bg-image"],
)
def test_rembg_contradictory_options_are_400(http, fields, files, says) -> None:
    files = {"file": photo_file(), **files}
    response = http.post("/api/remove", files=files, data={"model": MODEL, **fields})
    assert says in rembg_error(response)


@pytest.mark.parametrize(
    ("fields", "files", "says"),
    [
        ({"channels": "alpha"}, {"bg_image_file": BACKGROUND}, "channels alpha and bg_image_file"),
        ({"channels": "alpha", "bg_color": "fff"}, {}, "channels alpha and bg_color: expected"),
        ({"channels": "alpha", "add_shadow": "true"}, {}, "channels alpha and add_shadow true"),
        ({"format": "zip", "bg_color": "fff"}, {}, "format zip and bg_color: expected one of"),
        ({"format": "zip", "channels": "alpha"}, {}, "format zip and channels alpha"),
        (
            {"add_shadow": "true", "shadow_type": "none"},
            {},
            "add_shadow true and shadow_type none: expected one of them, got both",
        ),
    ],
    ids=["alpha-bg-image", "alpha-bg-color", "alpha-shadow", "zip-bg-color", "zip-alpha",
         "shadow-and-none"],
)  # fmt: skip
def test_removebg_contradictory_fields_are_400(http, fields, files, says) -> None:
    assert says in removebg_error(removebg(http, fields, **files))


def test_the_clamped_margin_and_roi_are_in_the_headers(http) -> None:
    fields = {"size": "full", "crop": "true", "crop_margin": "10000px", "roi": "0 0 99999px 100%"}
    response = removebg(http, fields)
    assert response.status_code == 200, response.text
    assert response.headers["X-Crop-Margin-Applied"] == "500px"
    assert response.headers["X-Roi-Applied"] == f"0px 0px {WIDTH}px {HEIGHT}px"
    with Image.open(io.BytesIO(response.content)) as result:
        assert (response.headers["X-Width"], response.headers["X-Height"]) == tuple(
            map(str, result.size)
        )


def test_a_percent_margin_is_said_in_pixels_of_the_photo(http) -> None:
    response = removebg(http, {"crop": "true", "crop_margin": "10%", "roi": "10% 0 90% 50%"})
    assert response.status_code == 200, response.text
    assert response.headers["X-Crop-Margin-Applied"] == f"{round(WIDTH * 0.1)}px"
    assert response.headers["X-Roi-Applied"] == f"45px 0px 406px {HEIGHT // 2}px"


def test_without_crop_or_roi_no_applied_header_is_sent(http) -> None:
    response = removebg(http, {})
    assert response.status_code == 200, response.text
    assert not {"X-Crop-Margin-Applied", "X-Roi-Applied"} & set(response.headers)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (png_bomb_bytes(11000, 11000), "expected at most 100,000,000 pixels, got 11000x11000"),
        (png_bomb_bytes(), "expected at most 100,000,000 pixels, got 400,000,000"),
    ],
    ids=["over-our-limit", "over-pillows-guard-too"],
)
def test_the_pixel_limit_names_only_ours_on_both_apis(http, content, says) -> None:
    for title in (
        rembg_error(http.post("/api/remove", files={"file": ("big.png", content)})),
        removebg_error(http.post(ENDPOINT, files={"image_file": ("big.png", content)})),
        removebg_error(removebg(http, {"roi": "0 0 10 10"}, image_file=("big.png", content))),
    ):
        assert says in title and not any(word in title for word in NOT_OURS), title


def test_the_webp_width_error_names_no_field_of_another_api(http) -> None:
    title = removebg_error(
        removebg(http, {"size": "full", "format": "webp"}, image_file=("w.png", wide_png_bytes()))
    )
    assert title.startswith("format webp: expected at most 16383 px per side, got 16400x48")
    assert not any(word in title for word in NOT_OURS), title
