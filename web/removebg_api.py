"""remove.bg's API: ``POST /v1.0/removebg`` and ``GET /v1.0/account``, so remove.bg client
libraries work by changing their base URL. Errors: ``{"errors": [{"title", "code"}]}``."""

from __future__ import annotations

import base64
import io
import zipfile

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from u2net.errors import InvalidImage, InvalidRequest
from u2net.image.io import header_size
from u2net.job import CutResult
from u2net.options import OutputOptions, field_default
from web.capacity import Admission
from web.depends import KEY_REQUIRED, Service
from web.errors import BadRequest
from web.fetch import fetch_image
from web.forms import FORM_TYPES, Body, content_type, decode_base64, read_form, read_json
from web.removebg_params import (
    CHOICES,
    FIELD_DEFAULTS,
    MEDIA_TYPES,
    SOURCES,
    USED,
    RemoveBgRequest,
    applied_headers,
    background_source,
    needs_photo_size,
    removebg_request,
    with_margin,
    zip_parts,
)
from web.service import CutService

router = APIRouter(tags=["remove.bg"], dependencies=KEY_REQUIRED)
ACCOUNT_CREDITS = 1_000_000  # nothing is charged here; clients that check credits carry on


BOOLEANS = {"crop": "crop", "add_shadow": "shadow", "semitransparency": "semitransparency"}
UPLOADS = ("image_file", "bg_image_file")


def _field_schema(name: str) -> dict:
    """remove.bg's field ``name`` as the code reads it: its choices and default."""
    if name in BOOLEANS:
        return {"type": "boolean", "default": field_default(BOOLEANS[name])}
    schema: dict = {"type": "string"}
    if name in CHOICES:
        schema["enum"] = list(CHOICES[name])
    if name in FIELD_DEFAULTS:
        schema["default"] = FIELD_DEFAULTS[name]
    return schema


_FIELDS = {name: _field_schema(name) for name in (*SOURCES, *USED) if name not in UPLOADS}
_FILES = {name: {"type": "string", "format": "binary"} for name in UPLOADS}
_BODY = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {**_FILES, **_FIELDS},
                }
            },
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": _FIELDS}
            },
            "application/json": {"schema": {"type": "object", "properties": _FIELDS}},
        }
    }
}


async def _body(request: Request, max_upload_bytes: int) -> Body:
    kind = content_type(request)
    if kind in FORM_TYPES:
        return await read_form(request, max_upload_bytes)
    if kind == "application/json":
        return await read_json(request)
    raise BadRequest(
        f"expected a body of {', '.join(FORM_TYPES)} or application/json, got {kind or 'none'}"
    )


async def _background(service: CutService, body: Body) -> bytes | None:
    """The background photo's bytes: uploaded, or fetched (only where URL fetching is on)."""
    source = background_source(body.fields, body.files)
    if source == "bg_image_file":
        return body.files["bg_image_file"]
    if source == "bg_image_url":
        limit = service.config.max_upload_bytes
        try:
            return await fetch_image(body.fields["bg_image_url"], service.config.fetch, limit)
        except BadRequest as e:
            raise BadRequest(f"bg_image_url: {e}") from e
    return None


async def _image(service: CutService, parsed: RemoveBgRequest, body: Body) -> bytes:
    limit = service.config.max_upload_bytes
    if parsed.source == "image_file":
        if "image_file" not in body.files:
            raise BadRequest("image_file: expected a file upload (multipart), got a text field")
        return body.files["image_file"]
    if parsed.source == "image_file_b64":
        return decode_base64("image_file_b64", body.fields["image_file_b64"], limit)
    return await fetch_image(body.fields["image_url"], service.config.fetch, limit)


def _fitted(
    service: CutService, parsed: RemoveBgRequest, data: bytes
) -> tuple[OutputOptions, dict[str, str]]:
    """The options for this photo (a percent margin in its pixels) and the headers saying
    what the clamps made of ``crop_margin`` and ``roi``, from the photo's header (read within
    the pixel limit, no pixel decoded)."""
    if not needs_photo_size(parsed):
        return parsed.options, {}
    try:
        size = header_size(data, service.config.max_pixels)
        options = with_margin(parsed, size)
        return options, applied_headers(options, size)
    except (InvalidImage, InvalidRequest) as e:
        raise BadRequest(str(e)) from e


async def _cut(
    service: CutService, admission: Admission, parsed: RemoveBgRequest, data: bytes
) -> tuple[bytes, CutResult, dict[str, str]]:
    """The answer's bytes, the result whose size and foreground box it reports, and the
    headers saying what the clamps applied."""
    options, applied = _fitted(service, parsed, data)
    if parsed.fmt != "zip":
        result = await service.cut(admission, data, service.config.default_model, options)
        return result.data, result, applied
    buffer, result = io.BytesIO(), None
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, part in zip_parts(options).items():
            result = await service.cut(admission, data, service.config.default_model, part)
            archive.writestr(name, result.data)
    return buffer.getvalue(), result, applied  # type: ignore[return-value]


def _headers(result: CutResult, kind: str) -> dict[str, str]:
    left, top, width, height = result.box
    return {
        "X-Width": str(result.size[0]), "X-Height": str(result.size[1]), "X-Type": kind,
        "X-Foreground-Top": str(top), "X-Foreground-Left": str(left),
        "X-Foreground-Width": str(width), "X-Foreground-Height": str(height),
        "X-Credits-Charged": "0",
    }  # fmt: skip


def _answer(
    request: Request,
    parsed: RemoveBgRequest,
    data: bytes,
    result: CutResult,
    applied: dict[str, str],
) -> Response:
    headers, fmt = {**_headers(result, parsed.kind), **applied}, parsed.fmt
    if "application/json" not in request.headers.get("accept", ""):
        return Response(data, media_type=MEDIA_TYPES[fmt], headers=headers)
    left, top, width, height = result.box
    payload = {
        "result_b64": base64.b64encode(data).decode("ascii"),
        "foreground_top": top, "foreground_left": left,
        "foreground_width": width, "foreground_height": height,
    }  # fmt: skip
    return JSONResponse({"data": payload}, headers=headers)


@router.post("/v1.0/removebg", summary="Remove the background (remove.bg's API)",
             response_class=Response, openapi_extra=_BODY)  # fmt: skip
async def removebg(request: Request, service: Service) -> Response:
    async with service.admit() as admission:
        body = await _body(request, service.config.max_upload_bytes)
        parsed = removebg_request(body.fields)  # every field checked before a URL is fetched
        background = await _background(service, body)
        if background is not None:
            parsed = removebg_request(body.fields, background)
        photo = await _image(service, parsed, body)
        data, result, applied = await _cut(service, admission, parsed, photo)
    return _answer(request, parsed, data, result, applied)


@router.get("/v1.0/account", summary="Account and credits (remove.bg's shape)")
async def account() -> dict:
    credits = {
        "total": ACCOUNT_CREDITS,
        "subscription": 0,
        "payg": ACCOUNT_CREDITS,
        "enterprise": 0,
    }
    api = {"free_calls": ACCOUNT_CREDITS, "sizes": "all"}
    return {"data": {"attributes": {"credits": credits, "api": api}}}
