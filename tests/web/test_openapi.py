"""The served OpenAPI document says what the code does: the defaults, choices and ranges in
/openapi.json are the ones the options are built with."""

from __future__ import annotations

import pytest

from u2net.catalogue import DEFAULT_MODEL, REQUEST_NAMES
from u2net.image.compositing import REMBG
from u2net.image.matting import MattingOptions
from u2net.options import FORMATS, OutputOptions
from web.rembg_params import rembg_options
from web.removebg_params import removebg_request

REMBG_DEFAULTS = {
    "model": DEFAULT_MODEL,
    "a": OutputOptions().matting is not None,
    "af": MattingOptions().foreground_threshold,
    "ab": MattingOptions().background_threshold,
    "ae": MattingOptions().erode_size,
    "om": OutputOptions().only_mask,
    "ppm": OutputOptions().post_process,
    "format": OutputOptions().fmt,
}


@pytest.fixture(scope="module")
def spec(http) -> dict:
    response = http.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def rembg_schemas(spec: dict) -> dict[str, dict[str, dict]]:
    """rembg's fields as documented for the query (GET) and the form (POST)."""
    operations = spec["paths"]["/api/remove"]
    query = {p["name"]: p["schema"] for p in operations["get"]["parameters"]}
    content = operations["post"]["requestBody"]["content"]
    return {"query": query, "form": content["multipart/form-data"]["schema"]["properties"]}


@pytest.mark.parametrize("where", ["query", "form"])
def test_rembgs_documented_defaults_are_the_codes(spec, where) -> None:
    schemas = rembg_schemas(spec)[where]
    assert {name: schemas[name].get("default") for name in REMBG_DEFAULTS} == REMBG_DEFAULTS
    assert schemas["format"]["enum"] == list(FORMATS)
    assert schemas["model"]["enum"] == list(REQUEST_NAMES)
    assert "default" not in schemas["bgc"]  # no colour: the cut-out keeps its transparency


def as_field(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def test_sending_rembgs_documented_defaults_changes_nothing(spec) -> None:
    schemas = rembg_schemas(spec)["form"]
    documented = {k: as_field(s["default"]) for k, s in schemas.items() if "default" in s}
    sent = rembg_options(documented, "file")
    assert sent == rembg_options({}, "file") == (DEFAULT_MODEL, OutputOptions(composite=REMBG))
    matting = {**documented, "a": "true"}
    assert rembg_options(matting, "file") == rembg_options({"a": "true"}, "file")


def test_rembgs_documented_threshold_range_is_enforced(spec) -> None:
    af = rembg_schemas(spec)["form"]["af"]
    for value in (af["minimum"], af["maximum"]):
        rembg_options({"a": "true", "af": str(value)}, "file")
    for value in (af["minimum"] - 1, af["maximum"] + 1):
        with pytest.raises(ValueError, match="af: expected"):
            rembg_options({"a": "true", "af": str(value)}, "file")


def test_sending_remove_bgs_documented_defaults_changes_nothing(spec) -> None:
    content = spec["paths"]["/v1.0/removebg"]["post"]["requestBody"]["content"]
    schemas = content["application/json"]["schema"]["properties"]
    documented = {k: as_field(s["default"]) for k, s in schemas.items() if "default" in s}
    assert set(documented) == {
        "size", "format", "channels", "crop", "crop_margin", "composite", "type", "type_level",
        "scale", "position", "add_shadow", "shadow_type", "shadow_opacity", "semitransparency",
    }  # fmt: skip
    source = {"image_file_b64": "x"}
    assert removebg_request({**source, **documented}) == removebg_request(source)
    assert removebg_request(source).options.max_output_pixels == 250_000  # remove.bg's preview


@pytest.mark.parametrize("name", ["size", "format", "channels", "type", "type_level"])
def test_every_documented_remove_bg_choice_is_accepted(spec, name) -> None:
    content = spec["paths"]["/v1.0/removebg"]["post"]["requestBody"]["content"]
    schema = content["multipart/form-data"]["schema"]["properties"][name]
    for choice in schema["enum"]:
        removebg_request({"image_file_b64": "x", name: choice})
