"""Reading request bodies: multipart and urlencoded forms, JSON objects, base64 images.

Starlette's parser errors become BadRequest here, so they answer in the API's own shape; the
size limit itself is enforced while the body streams in (:mod:`web.uploads`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from web.errors import BadRequest
from web.uploads import check_file_size

MAX_FIELDS = 64
MAX_FIELD_BYTES = 1024 * 1024 * 48  # text fields may carry base64 images; the body is capped
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


@dataclass
class Body:
    fields: dict[str, str]  # text fields (a file field shows as its file name)
    files: dict[str, bytes]


def text_fields(fields: Mapping[str, object]) -> dict[str, str]:
    """Scalar fields as text (JSON numbers and booleans as callers would type them)."""
    return {
        k: str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in fields.items()
        if v is not None
    }


def content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def check_once(names: Iterable[str], where: str = "") -> None:
    """Every field of both APIs takes one value: a name given twice is refused, not the
    first value dropped for the last."""
    counts = Counter(names)
    twice = [name for name, count in counts.items() if count > 1]
    if twice:
        name = twice[0]
        raise BadRequest(f"{name}: expected the field once{where}, got it {counts[name]} times")


def check_apart(query: Iterable[str], body: Iterable[str]) -> None:
    """A field in both the query string and the body is given twice."""
    both = sorted(set(query) & set(body))
    if both:
        raise BadRequest(
            f"{both[0]}: expected the field once (in the query or the body), got it in both"
        )


async def read_form(request: Request, max_upload_bytes: int) -> Body:
    """Multipart or urlencoded: text fields and uploaded files (each within the limit), each
    field once."""
    try:
        form = await request.form(max_files=4, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES)
    except HTTPException as e:
        raise BadRequest(f"malformed form body: {e.detail}") from e
    try:
        check_once(name for name, _ in form.multi_items())
        fields, files = {}, {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[name] = check_file_size(await value.read(), max_upload_bytes)
                fields[name] = value.filename or name
            else:
                fields[name] = value
        return Body(fields, files)
    finally:
        await form.close()


def parse_json(raw: bytes) -> dict[str, object]:
    """A JSON object. Its numbers stay the text the caller wrote (a field's parser reads them:
    Python's int() refuses over 4300 digits), a key given twice is refused (not its first
    value dropped), and nesting too deep to decode is refused."""
    try:
        value = json.loads(
            raw, parse_int=str, parse_float=str, parse_constant=str, object_pairs_hook=_once
        )
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadRequest(f"malformed JSON body: {e}") from e
    except RecursionError as e:
        raise BadRequest(
            "JSON body: expected an object of plain values, got nesting too deep to read"
        ) from e
    if not isinstance(value, dict):
        raise BadRequest(f"JSON body: expected an object, got {type(value).__name__}")
    return value


def _once(pairs: list[tuple[str, object]]) -> dict[str, object]:
    check_once((name for name, _ in pairs), " in the JSON body")
    return dict(pairs)


def check_text(fields: Mapping[str, str]) -> None:
    """JSON's escapes can spell lone surrogates (``"\\ud800"``): no text, and no answer could
    encode them (a message repeating one). ``repr`` escapes them, so the field is named."""
    for name, text in fields.items():
        try:
            f"{name}{text}".encode()
        except UnicodeEncodeError as e:
            raise BadRequest(f"JSON body: expected text, got a lone surrogate in {name!r}") from e


async def read_json(request: Request) -> Body:
    value = parse_json(await request.body())
    nested = [k for k, v in value.items() if isinstance(v, dict | list)]
    if nested:
        raise BadRequest(
            f"JSON body: expected plain values, got an object or list in {nested[0]!r}"
        )
    fields = text_fields(value)
    check_text(fields)
    return Body(fields, {})


def decode_base64(name: str, text: str, max_upload_bytes: int) -> bytes:
    """Base64 (optionally a ``data:...;base64,`` URL) -> bytes, within the size limit."""
    payload = text.split(",", 1)[1] if text.startswith("data:") and "," in text else text
    try:
        data = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as e:
        raise BadRequest(f"{name}: expected base64, got {payload[:20]!r}...: {e}") from e
    return check_file_size(data, max_upload_bytes)
