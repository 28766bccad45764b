"""Options <-> request parameters: one mapping, both ways, with clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from u2net.errors import OptionError
from u2net.image.matting import MattingOptions
from u2net.options import (
    OutputOptions,
    build_options,
    fields,
    from_parameters,
    parameter_names,
    to_parameters,
)

ROUND_TRIP = {
    "default": OutputOptions(),
    "everything": OutputOptions(
        only_mask=False,
        bgcolor=(1, 2, 3, 4),
        composite="rembg",
        post_process=True,
        matting=MattingOptions(230, 15, 3),
        fmt="webp",
        png_compression=9,
        crop=True,
        crop_margin=7,
        max_output_pixels=250_000,
    ),
    "mask-jpg": OutputOptions(only_mask=True, fmt="jpg"),
}


@pytest.mark.parametrize("name", list(ROUND_TRIP))
def test_parameters_round_trip(name: str) -> None:
    options = ROUND_TRIP[name]
    params = to_parameters(options, "u2netp_onnx")
    assert set(params) <= set(parameter_names())
    request = from_parameters(params)
    assert request.options == options and request.model == "u2netp_onnx"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"crop": "true", "crop_margin": "5"}, OutputOptions(crop=True, crop_margin=5)),
        ({"only_mask": "1", "format": "JPG"}, OutputOptions(only_mask=True, fmt="jpg")),
        ({"bgcolor": ""}, OutputOptions()),
        ({"composite": "Straight"}, OutputOptions(composite="straight")),
        ({"only_mask": 1, "post_process_mask": 0}, OutputOptions(only_mask=True)),
        ({"bgcolor": "9,8,7"}, OutputOptions(bgcolor=(9, 8, 7, 255))),
    ],
)
def test_strings_from_http_clients_are_understood(params: dict, expected: OutputOptions) -> None:
    assert from_parameters(params).options == expected


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"size": "full"}, "expected parameters from model, only_mask"),
        ({"crop": 2}, "parameter crop: expected true or false, got 2"),
        ({"crop_margin": -1}, "parameter crop_margin: expected a whole number ≥ 0, got -1"),
        ({"crop_margin": True}, "parameter crop_margin: expected a whole number, got True"),
        (
            {"max_output_pixels": 0},
            "max_output_pixels: expected a whole number ≥ 1, got 0",
        ),
        ({"max_pixels": 0}, "parameter max_pixels: expected a whole number ≥ 1, got 0"),
        ({"png_compression": 12}, "parameter png_compression: expected 0..9, got 12"),
        ({"format": "jpg"}, "format jpg has no alpha channel"),
        ({"bgcolor": "1,2"}, "parameter bgcolor: expected R,G,B or R,G,B,A"),
        ({"alpha_matting": True, "alpha_matting_foreground_threshold": 256}, "expected 0..255"),
    ],
)
def test_bad_parameters_say_expected_and_got(params: dict, says: str) -> None:
    with pytest.raises(OptionError) as info:
        from_parameters(params)
    assert says in str(info.value)


def test_absent_or_none_is_the_default() -> None:
    assert build_options({}) == build_options(dict.fromkeys(fields())) == OutputOptions()


def test_a_caller_names_its_fields_its_own_way() -> None:
    names = {"mask": "only_mask", "margin": "crop_margin", "crop": "crop"}
    options = build_options({"mask": "yes", "crop": "on", "margin": "4", "only_mask": "x"}, names)
    assert options == OutputOptions(only_mask=True, crop=True, crop_margin=4)
    with pytest.raises(OptionError) as info:
        build_options({"margin": "wide"}, names, label="--{}")
    assert str(info.value) == "--margin: expected a whole number, got 'wide'"


@pytest.mark.parametrize("word", ["yes", "on", "TRUE", " 1 "])
def test_parameters_take_every_yes_word(word: str) -> None:
    assert from_parameters({"crop": word, "alpha_matting": word}).options == OutputOptions(
        crop=True, matting=MattingOptions()
    )


# A new option, added as the table says it is added: a field of OutputOptions and one row of
# OPTIONS, before anything reads them. Its own process: the CLI's parser and the gateway's
# routes are built from the table at import.
ADD_AN_OPTION = """
import contextlib, dataclasses, io, json
import u2net.options as o

base = o.OutputOptions
o.OutputOptions = dataclasses.make_dataclass(
    "OutputOptions", [("dummy_level", int, dataclasses.field(default=3))], bases=(base,),
    frozen=True,
)
o.OPTIONS = (
    *o.OPTIONS,
    o.Option("dummy_level", "dummy_level", o.NUMBER, "a dummy's level", 1, 7, on_rembg_api=True),
)

from client.cli import build_parser
from web.app import create_app
from web.config import WebConfig
from web.rembg_params import rembg_options

options = o.build_options({"dummy_level": "5"})
parameters = o.to_parameters(options)
spec = create_app(WebConfig(triton_url="localhost:1")).openapi()
form = spec["paths"]["/api/remove"]["post"]["requestBody"]["content"]["multipart/form-data"]
shown = io.StringIO()
with contextlib.redirect_stdout(shown), contextlib.suppress(SystemExit):
    build_parser().parse_args(["cut", "--help"])
print(json.dumps({
    "help": build_parser().parse_args(["cut", "x.png", "--dummy-level", "6"]).dummy_level,
    "cut_help": shown.getvalue(),
    "parameters": parameters,
    "back": o.from_parameters(parameters).options.dummy_level,
    "default_parameters": o.to_parameters(o.OutputOptions()),
    "openapi": form["schema"]["properties"]["dummy_level"],
    "rembg_api": rembg_options({"dummy_level": "2"}, "file")[1].dummy_level,
}))
"""


def test_an_option_added_to_the_table_reaches_every_caller() -> None:
    done = subprocess.run(
        [sys.executable, "-c", ADD_AN_OPTION],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["help"] == 6
    assert "--dummy-level 1-7" in seen["cut_help"] and "a dummy's level (default: 3)" in " ".join(
        seen["cut_help"].split()
    )
    assert seen["parameters"]["dummy_level"] == 5 and seen["back"] == 5
    assert "dummy_level" not in seen["default_parameters"]  # only what differs from default
    assert seen["openapi"] == {
        "type": "integer", "description": "a dummy's level", "default": 3, "minimum": 1,
        "maximum": 7,
    }  # fmt: skip
    assert seen["rembg_api"] == 2
