"""rembg's fields, remove.bg's fields, ``cutout``'s parameters and the CLI's flags: each named
its own way, the same choices give the same options, and the same words mean yes and no."""

from __future__ import annotations

import dataclasses

import pytest

from client.cli import build_parser, output_options
from tests.u2net.test_values import NO, YES
from u2net.errors import InvalidRequest, OptionError, UsageError
from u2net.image.compositing import REMBG
from u2net.image.matting import MattingOptions
from u2net.options import OutputOptions, from_parameters
from web.errors import BadRequest
from web.forms import check_apart, check_once
from web.rembg_params import rembg_options
from web.removebg_params import (
    MARGIN_HEADER,
    ROI_HEADER,
    applied_headers,
    needs_photo_size,
    removebg_request,
    with_margin,
)

SAME = [
    # (rembg's fields, cutout's parameters, the CLI's flags, the options they all mean)
    pytest.param({}, {}, [], OutputOptions(), id="defaults"),
    pytest.param(
        {"om": "true"}, {"only_mask": True}, ["--only-mask"], OutputOptions(only_mask=True),
        id="only-mask",
    ),
    pytest.param(
        {"ppm": "on"}, {"post_process_mask": "1"}, ["-ppm"], OutputOptions(post_process=True),
        id="post-process",
    ),
    pytest.param(
        {"bgc": "1,2,3"}, {"bgcolor": "1,2,3"}, ["--bgcolor", "1,2,3"],
        OutputOptions(bgcolor=(1, 2, 3, 255)), id="bgcolor",
    ),
    pytest.param(
        {"a": "yes"}, {"alpha_matting": True}, ["-a"], OutputOptions(matting=MattingOptions()),
        id="matting-defaults",
    ),
    pytest.param(
        {"a": "1", "af": "230", "ab": "15", "ae": "5"},
        {"alpha_matting": "true", "alpha_matting_foreground_threshold": 230,
         "alpha_matting_background_threshold": "15", "alpha_matting_erode_size": 5},
        ["-a", "-af", "230", "-ab", "15", "-ae", "5"],
        OutputOptions(matting=MattingOptions(230, 15, 5)), id="matting",
    ),
    pytest.param(
        {"af": "230"}, {"alpha_matting_foreground_threshold": 230}, ["-af", "230"],
        OutputOptions(), id="thresholds-without-matting",
    ),
    pytest.param(
        {"format": "WEBP"}, {"format": "webp"}, ["--format", "webp"], OutputOptions(fmt="webp"),
        id="webp",
    ),
    pytest.param(
        {"format": "jpg", "bgc": "255,255,255"}, {"format": "jpg", "bgcolor": "255,255,255"},
        ["--format", "jpg", "--bgcolor", "255,255,255"],
        OutputOptions(fmt="jpg", bgcolor=(255, 255, 255, 255)), id="jpg",
    ),
]  # fmt: skip


def cli_options(flags: list[str]) -> OutputOptions:
    return output_options(build_parser().parse_args(["cut", "photo.jpg", *flags]))


@pytest.mark.parametrize(("rembg", "parameters", "flags", "expected"), SAME)
def test_the_same_choices_give_the_same_options(rembg, parameters, flags, expected) -> None:
    # rembg's API differs in one default only, on purpose: it composites as rembg does
    assert rembg_options(rembg, "file")[1] == dataclasses.replace(expected, composite=REMBG)
    assert from_parameters(parameters).options == expected
    assert cli_options(flags) == expected


def test_the_clis_framing_flags_are_cutouts_parameters() -> None:
    flags = ["--png-compression", "5", "--crop", "--crop-margin", "3", "--max-output-pixels", "9"]
    parameters = {"png_compression": "5", "crop": "yes", "crop_margin": 3, "max_output_pixels": "9"}
    expected = OutputOptions(png_compression=5, crop=True, crop_margin=3, max_output_pixels=9)
    assert cli_options(flags) == from_parameters(parameters).options == expected


REMOVEBG = [
    # (remove.bg's fields beside the image, the CLI's flags for the same)
    pytest.param({}, ["--max-output-pixels", "250000"], id="default-is-preview"),
    pytest.param(
        {"size": "hd", "format": "webp"},
        ["--max-output-pixels", "4000000", "--format", "webp"],
        id="hd-webp",
    ),
    pytest.param({"size": "full", "channels": "alpha"}, ["--only-mask"], id="alpha"),
    pytest.param(
        {"size": "full", "bg_color": "red"},
        ["--bgcolor", "255,0,0", "--format", "jpg"],
        id="bg-colour-is-jpg",
    ),
    pytest.param(
        {"size": "full", "crop": "on", "crop_margin": "30px"},
        ["--crop", "--crop-margin", "30"],
        id="crop",
    ),
    pytest.param(
        {
            "size": "full",
            "scale": "50%",
            "roi": "0 0 50% 100%",
            "add_shadow": "yes",
            "semitransparency": "no",
            "shadow_opacity": "70",
            "position": "10% 90%",
        },
        [
            "--scale",
            "50%",
            "--roi",
            "0px 0px 50% 100%",
            "--shadow",
            "--no-semitransparency",
            "--shadow-opacity",
            "70",
            "--position",
            "10% 90%",
        ],
        id="composition",
    ),
    pytest.param(
        {"size": "full", "scale": "30%", "shadow_type": "drop", "type": "car"},
        ["--scale", "30%", "--position", "center", "--shadow"],
        id="scale-centres-drop-shadow",
    ),
]


def test_an_unreadable_background_is_a_usage_error(tmp_path) -> None:
    with pytest.raises(UsageError, match=r"--bg-image .*missing\.png: cannot read"):
        cli_options(["--bg-image", str(tmp_path / "missing.png")])


@pytest.mark.parametrize(("fields", "flags"), REMOVEBG)
def test_remove_bg_fields_give_the_clis_options(fields, flags) -> None:
    parsed = removebg_request({"image_file_b64": "x", **fields})
    assert parsed.options == cli_options(flags)


@pytest.mark.parametrize("word", [w for w in YES if isinstance(w, str)], ids=repr)
def test_every_yes_word_means_yes_on_every_path(word: str) -> None:
    assert rembg_options({"om": word}, "file")[1].only_mask
    assert from_parameters({"only_mask": word}).options.only_mask
    assert removebg_request({"image_file_b64": "x", "crop": word}).options.crop


@pytest.mark.parametrize("word", [w for w in NO if isinstance(w, str)], ids=repr)
def test_every_no_word_means_no_on_every_path(word: str) -> None:
    assert not rembg_options({"om": word, "dc": word, "vm": word}, "file")[1].only_mask
    assert not from_parameters({"only_mask": word}).options.only_mask
    assert not removebg_request({"image_file_b64": "x", "crop": word}).options.crop


@pytest.mark.parametrize(
    ("rembg", "says"),
    [
        ({"om": "maybe"}, "om: expected true or false, got 'maybe'"),
        ({"a": "true", "af": "300"}, "af: expected 0..255, got 300"),
        ({"a": "true", "ae": "x"}, "ae: expected a whole number, got 'x'"),
        ({"bgc": "red"}, "bgc: expected R,G,B or R,G,B,A"),
        ({"format": "gif"}, "format: expected one of png, webp, jpg, got 'gif'"),
        ({"dc": "true"}, "dc: expected false (not served here), got true"),
    ],
)
def test_rembg_errors_name_rembgs_field(rembg, says) -> None:
    with pytest.raises(OptionError) as info:
        rembg_options(rembg, "file")
    assert str(info.value).startswith(says)


@pytest.mark.parametrize(
    ("parameters", "says"),
    [
        ({"only_mask": "maybe"}, "parameter only_mask: expected true or false, got 'maybe'"),
        (
            {"alpha_matting": 1, "alpha_matting_erode_size": "x"},
            "parameter alpha_matting_erode_size: expected a whole number, got 'x'",
        ),
    ],
)
def test_cutout_errors_name_the_parameter(parameters, says) -> None:
    with pytest.raises(OptionError) as info:
        from_parameters(parameters)
    assert str(info.value) == says


@pytest.mark.parametrize(
    ("rembg", "background", "says"),
    [
        ({"om": "true", "bgc": "0,0,0"}, False, "om and bgc: expected one of them, got both"),
        ({"om": "1"}, True, "om and bg_image: expected one of them, got both"),
        ({"om": "yes", "shadow": "on"}, False, "om and shadow: expected one of them, got both"),
        ({"bgc": "0,0,0"}, True, "bgc and bg_image: expected one of them, got both"),
    ],
    ids=["mask-and-colour", "mask-and-photo", "mask-and-shadow", "colour-and-photo"],
)
def test_rembg_fields_that_contradict_are_named_both(rembg, background, says) -> None:
    with pytest.raises(OptionError) as info:
        rembg_options(rembg, "file", bg_image=b"a photo" if background else None)
    assert str(info.value).startswith(says)


def test_a_mask_with_the_defaults_of_the_rest_is_no_contradiction() -> None:
    """What clients send as a matter of course (empty or false fields) clashes with nothing."""
    fields = {"om": "true", "bgc": "", "shadow": "false", "a": "false"}
    assert rembg_options(fields, "file")[1] == OutputOptions(only_mask=True, composite=REMBG)
    parsed = removebg_request({"image_file_b64": "x", "channels": "alpha", "bg_color": "",
                               "add_shadow": "false", "shadow_type": "none"})  # fmt: skip
    assert parsed.options.only_mask and parsed.options.bgcolor is None


def test_cutout_names_its_parameters_when_they_contradict() -> None:
    with pytest.raises(OptionError) as info:
        from_parameters({"only_mask": True, "bgcolor": "1,2,3"})
    assert str(info.value) == (
        "parameter only_mask and parameter bgcolor: expected one of them, got both"
        " (a mask has no background)"
    )


def test_the_cli_refuses_a_mask_with_a_background() -> None:
    with pytest.raises(UsageError, match="only_mask and bgcolor: expected one of them"):
        cli_options(["--only-mask", "--bgcolor", "1,2,3"])


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"channels": "alpha", "bg_color": "fff"}, "channels alpha and bg_color"),
        ({"channels": "alpha", "bg_image_url": "http://a/b"}, "channels alpha and bg_image_url"),
        ({"channels": "alpha", "shadow_type": "drop"}, "channels alpha and shadow_type drop"),
        ({"format": "zip", "bg_color": "fff"}, "format zip and bg_color"),
        ({"format": "zip", "bg_image_file": "b.jpg"}, "format zip and bg_image_file"),
        ({"format": "zip", "channels": "alpha"}, "format zip and channels alpha"),
        ({"add_shadow": "true", "shadow_type": "none"}, "add_shadow true and shadow_type none"),
        ({"roi": "100 0 10 100%"}, "roi: expected x1 < x2 and y1 < y2 (a region), got '100 0 10"),
    ],
)  # fmt: skip
def test_remove_bg_fields_that_contradict_are_named_both(fields, says) -> None:
    """Checked from the fields alone, before a background URL is fetched."""
    with pytest.raises(OptionError) as info:
        removebg_request({"image_file_b64": "x", **fields})
    assert str(info.value).startswith(says)


def test_shadow_type_wins_over_add_shadows_default() -> None:
    """``add_shadow=false`` is what clients send when they say nothing of it."""
    fields = {"image_file_b64": "x", "add_shadow": "false", "shadow_type": "drop"}
    assert removebg_request(fields).options.shadow


@pytest.mark.parametrize(
    ("fields", "size", "headers"),
    [
        ({}, (451, 300), {}),
        ({"crop": "true"}, (451, 300), {MARGIN_HEADER: "0px"}),
        ({"crop": "true", "crop_margin": "10000px"}, (451, 300), {MARGIN_HEADER: "500px"}),
        ({"crop": "true", "crop_margin": "10%"}, (451, 300), {MARGIN_HEADER: "45px"}),
        ({"crop": "true", "crop_margin": "50%"}, (4000, 300), {MARGIN_HEADER: "500px"}),
        ({"crop_margin": "50%"}, (4000, 300), {}),  # no crop: no margin is applied
        ({"roi": "0 0 99999px 100%"}, (451, 300), {ROI_HEADER: "0px 0px 451px 300px"}),
        ({"roi": "0 10% 50% 200px"}, (451, 300), {ROI_HEADER: "0px 30px 226px 200px"}),
    ],
)
def test_the_applied_margin_and_roi_are_said_in_the_photos_pixels(fields, size, headers) -> None:
    parsed = removebg_request({"image_file_b64": "x", **fields})
    assert needs_photo_size(parsed) == bool(headers)
    assert applied_headers(with_margin(parsed, size), size) == headers


@pytest.mark.parametrize(
    ("roi", "size", "says"),
    [
        ("300px 0 50% 100%", (451, 300), "inside the 451x300 image, got '300px 0px 50% 100%'"),
        ("500 0 600 100", (451, 300), "got '500px 0px 600px 100px' (451px 0px 451px 100px there)"),
    ],
)
def test_a_roi_with_nothing_inside_the_photo_is_refused(roi, size, says) -> None:
    parsed = removebg_request({"image_file_b64": "x", "roi": roi})
    with pytest.raises(InvalidRequest) as info:
        applied_headers(parsed.options, size)
    assert str(info.value).startswith("roi: expected a region with x1 < x2 and y1 < y2")
    assert says in str(info.value)


def test_a_field_given_twice_is_named() -> None:
    check_once(["image_file", "size", "roi"])
    with pytest.raises(BadRequest, match=r"^size: expected the field once, got it 3 times$"):
        check_once(["size", "image_file", "size", "size"])
    with pytest.raises(BadRequest, match=r"^om: expected the field once \(in the query or"):
        check_apart(["om", "bgc"], ["file", "om"])
