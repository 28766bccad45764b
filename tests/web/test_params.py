"""rembg's fields, remove.bg's fields, ``cutout``'s parameters and the CLI's flags: each named
its own way, the same choices give the same options, and the same words mean yes and no."""

from __future__ import annotations

import dataclasses

import pytest

from client.cli import build_parser, output_options
from tests.u2net.test_values import NO, YES
from u2net.compositing import REMBG
from u2net.errors import OptionError, UsageError
from u2net.matting import MattingOptions
from u2net.options import OutputOptions, from_parameters
from web.rembg_params import rembg_options
from web.removebg_params import removebg_request

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
