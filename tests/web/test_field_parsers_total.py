"""Every field of both APIs is total: whatever a body or a field holds, the gateway answers
one of its own errors (a 4xx with one line), never an exception from Python that would be a
500 (Hypothesis, derandomized; no server needed: the parsers are pure)."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from starlette.requests import Request

from tests.field_text import (
    FIELD_TEXT,
    HUGE_FLOAT,
    HUGE_INT,
    TOTAL,
    hostile_examples,
    one_line,
)
from u2net.errors import InvalidRequest, OptionError
from u2net.options import from_parameters, to_parameters
from web.config import FetchPolicy
from web.errors import BadRequest, WebError
from web.fetch import check_url
from web.forms import decode_base64, parse_json, read_form, read_json
from web.rembg_params import OPTION_FIELDS, rembg_options
from web.removebg_params import (
    BACKGROUNDS,
    SOURCES,
    USED,
    applied_headers,
    background_source,
    parse_web_color,
    removebg_request,
    with_margin,
    zip_parts,
)

LIMIT = 1024 * 1024
B64 = {"image_file_b64": "aGVsbG8="}
NAMES = st.one_of(st.sampled_from((*SOURCES, *USED)), st.text(max_size=8))
REMOVEBG_FIELDS = st.dictionaries(NAMES, FIELD_TEXT, max_size=6).map(lambda f: {**B64, **f})
REMBG_FIELDS = st.dictionaries(st.sampled_from(OPTION_FIELDS), FIELD_TEXT, max_size=6)
PHOTO_SIZES = st.tuples(st.integers(1, 100_000), st.integers(1, 100_000))
DEPTH = 10_000


def refused(error: Exception) -> None:
    one_line(str(error))


def cutout_takes(options) -> None:
    """The gateway's options, sent as ``cutout``'s parameters, parse there too."""
    from_parameters(to_parameters(options), options.bg_image)


@TOTAL
@given(fields=REMOVEBG_FIELDS, size=PHOTO_SIZES)
@example(fields={**B64, "crop": "true", "crop_margin": f"{HUGE_FLOAT}px"}, size=(10, 10))
@example(fields={**B64, "crop": "true", "crop_margin": f"{HUGE_FLOAT}%"}, size=(10, 10))
@example(fields={**B64, "crop": "true", "crop_margin": f"{'9' * 308}%"}, size=(10_000, 10))
@example(fields={**B64, "shadow_opacity": HUGE_INT, "add_shadow": "true"}, size=(10, 10))
@example(fields={**B64, "roi": f"0 0 {HUGE_FLOAT}px 50%"}, size=(10, 10))
@example(fields={**B64, "roi": "0 0 1234567px 50%"}, size=(10, 10))
def test_removebg_fields_are_total(fields: dict[str, str], size: tuple[int, int]) -> None:
    try:
        parsed = removebg_request(fields)
    except OptionError as e:
        refused(e)
        return
    options = with_margin(parsed, size)
    assert 0 <= options.crop_margin <= 500
    try:
        applied_headers(options, size)
    except InvalidRequest as e:  # a roi with nothing inside the photo
        refused(e)
    for part in zip_parts(options).values() if parsed.fmt == "zip" else (options,):
        cutout_takes(part)


@TOTAL
@given(fields=st.dictionaries(st.sampled_from(BACKGROUNDS), FIELD_TEXT, max_size=3))
def test_the_background_fields_are_total(fields: dict[str, str]) -> None:
    for files in ((), ("bg_image_file",)):
        try:
            background_source(fields, files)
        except OptionError as e:
            refused(e)


@TOTAL
@given(fields=REMBG_FIELDS, background=st.booleans())
@example(fields={"a": "true", "af": HUGE_INT}, background=False)
@example(fields={"a": "true", "ab": f"-{HUGE_INT}", "ae": HUGE_FLOAT}, background=False)
def test_rembg_fields_are_total(fields: dict[str, str], background: bool) -> None:
    bg_image = b"a photo" if background else None
    try:
        _, options = rembg_options(fields, "file", bg_image=bg_image)
    except OptionError as e:
        refused(e)
        return
    cutout_takes(options)
    assert (options.bg_image is not None) == background


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(), FIELD_TEXT
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
JSON_OBJECTS = st.dictionaries(NAMES, JSON_VALUES, max_size=5).map(
    lambda value: json.dumps(value, ensure_ascii=False).encode()
)
RAW_BODIES = st.one_of(
    st.binary(max_size=64),
    JSON_OBJECTS,
    st.builds(
        lambda name, digits: f'{{"{name}": {digits}}}'.encode(),
        st.sampled_from(USED),
        st.sampled_from(("1" * 5000, "-" + "1" * 5000, "1" * 400 + ".5", "1e400", "NaN")),
    ),
    st.integers(1, 3 * DEPTH).map(lambda depth: nested(depth).encode()),
    st.integers(1, 3 * DEPTH).map(lambda depth: f'{{"roi": {nested(depth)}}}'.encode()),
    st.text().map(lambda text: json.dumps({"bg_color": text}).encode()),  # escapes, surrogates
)


def request_with(body: bytes, content_type: str) -> Request:
    """A request as Starlette hands one to a route (``app`` in the scope: form errors are
    HTTPExceptions then)."""
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1.0/removebg",
        "headers": [(b"content-type", content_type.encode("latin-1"))],
        "app": object(),
    }
    return Request(scope, receive)


@TOTAL
@given(raw=RAW_BODIES)
@example(raw=nested(DEPTH).encode())
@example(raw=f'{{"image_file_b64": {nested(DEPTH, "{}")}}}'.encode())
@example(raw=f'{{"image_file_b64": "aGVsbG8=", "shadow_opacity": {HUGE_INT}}}'.encode())
@example(raw=b'{"image_file_b64": "aGVsbG8=", "bg_color": "\\ud800"}')
@example(raw=b'{"\\udfff": 1}')
def test_a_json_body_is_read_or_refused_in_one_line(raw: bytes) -> None:
    """The whole path of a JSON body on ``/v1.0/removebg``: read, then its fields parsed."""
    try:
        body = asyncio.run(read_json(request_with(raw, "application/json")))
        removebg_request(body.fields)
    except (BadRequest, OptionError) as e:
        refused(e)


def test_json_numbers_reach_the_fields_as_the_caller_wrote_them() -> None:
    raw = b'{"a": 1, "b": -2.50, "c": 1e400, "d": NaN, "e": true, "f": null}'
    body = asyncio.run(read_json(request_with(raw, "application/json")))
    assert body.fields == {"a": "1", "b": "-2.50", "c": "1e400", "d": "NaN", "e": "true"}


@pytest.mark.parametrize(
    "raw",
    [nested(DEPTH).encode(), f'{{"roi": {nested(DEPTH)}}}'.encode()],
    ids=["top-level", "in-a-field"],
)
def test_json_nested_too_deep_is_one_line(raw: bytes) -> None:
    with pytest.raises(BadRequest) as info:
        parse_json(raw)
    says = "JSON body: expected an object of plain values, got nesting too deep to read"
    assert str(info.value) == says


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
@TOTAL
@given(raw=st.one_of(st.binary(max_size=200), FIELD_TEXT.map(str.encode)))
@example(raw=b"a=" + b"%ff" * 50 + b"&b=%00%0a")
@example(raw=b"--x\r\nContent-Disposition: form-data; name=\xff\r\n\r\nv\r\n--x--\r\n")
@example(raw=b'--x\r\nContent-Disposition: form-data; name="f"; filename=\r\n\r\n\r\n--x--')
def test_a_form_body_is_read_or_refused_in_one_line(raw: bytes, content_type: str) -> None:
    try:
        body = asyncio.run(read_form(request_with(raw, content_type), LIMIT))
        removebg_request({**body.fields, **B64})
        rembg_options({k: v for k, v in body.fields.items() if k in OPTION_FIELDS}, "file")
    except (WebError, OptionError) as e:
        refused(e)


@TOTAL
@given(text=FIELD_TEXT)
@hostile_examples("text")
@example(text="data:image/png;base64," + "\u00e9" * 8)
@example(text="QUJD" * 1000)
def test_base64_fields_are_total(text: str) -> None:
    try:
        decode_base64("image_file_b64", text, 100)
    except WebError as e:
        refused(e)


URLS = st.one_of(
    FIELD_TEXT,
    st.builds(lambda host: f"http://{host}/x.jpg", FIELD_TEXT),
    st.builds(lambda port: f"https://example.com:{port}/", FIELD_TEXT),
)


@TOTAL
@given(url=URLS)
@example(url="http://[")
@example(url="http://[::1")
@example(url="http://a:99999/")
@example(url="http://a:port/")
@example(url="http://\u2100/")
def test_image_url_fields_are_total(url: str) -> None:
    try:
        check_url(url, FetchPolicy(enabled=True))
    except BadRequest as e:
        refused(e)


@pytest.mark.parametrize(
    ("raw", "field"),
    [(b'{"bg_color": "\\ud800"}', "'bg_color'"), (b'{"\\udfff": "1"}', "'\\udfff'")],
    ids=["in-a-value", "in-a-name"],
)
def test_a_lone_surrogate_in_json_is_refused_naming_the_field(raw: bytes, field: str) -> None:
    """JSON's escapes spell text no answer can encode; forms never give it (Starlette
    decodes their bytes with a fallback)."""
    with pytest.raises(BadRequest) as info:
        asyncio.run(read_json(request_with(raw, "application/json")))
    assert str(info.value) == f"JSON body: expected text, got a lone surrogate in {field}"
    one_line(str(info.value))


@TOTAL
@given(text=FIELD_TEXT)
@hostile_examples("text")
def test_remove_bgs_colour_parser_is_total(text: str) -> None:
    try:
        parse_web_color(text, "bg_color")
    except OptionError as e:
        refused(e)
