"""rembg's HTTP API: ``POST /api/remove`` (multipart ``file``) and ``GET /api/remove?url=``.

Options come as form fields or query parameters (rembg reads ``bgc`` from the query even on
POST); the answer is the image (``image/png`` unless ``format`` says otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request
from starlette.responses import Response

from u2net.catalogue import DEFAULT_MODEL, REQUEST_NAMES
from u2net.options import OutputOptions, default_of, option
from web.capacity import Admission
from web.depends import KEY_REQUIRED, Service
from web.errors import BadRequest
from web.fetch import fetch_image
from web.forms import check_apart, check_once, read_form
from web.rembg_params import (
    BG_IMAGE_FIELD,
    DEFAULT_COMPOSITE,
    FILE_FIELD,
    OPTIONS,
    URL_FIELD,
    rembg_options,
)
from web.removebg_params import MEDIA_TYPES
from web.service import CutService

router = APIRouter(tags=["rembg"], dependencies=KEY_REQUIRED)

_EXTRA = {
    "bgc": {"example": "0,0,0,255"},
    "composite": {"default": DEFAULT_COMPOSITE},
}


def _option_schema(name: str) -> dict:
    """rembg's field ``name`` as the code reads it: its option's type, help, default, range
    and choices (u2net.options.OPTIONS)."""
    row = option(OPTIONS[name])
    if row.kind.schema == "binary":  # an upload
        return {"type": "string", "format": "binary", "description": row.help}
    schema: dict = {"type": row.kind.schema, "description": row.help}
    default = default_of(row)
    if default is not None:
        schema["default"] = default
    if row.low is not None:
        schema["minimum"] = row.low
    if row.high is not None:
        schema["maximum"] = row.high
    if row.choices:
        schema["enum"] = list(row.choices)
    return {**schema, **_EXTRA.get(name, {})}


_MODEL_SCHEMA = {
    "type": "string", "default": DEFAULT_MODEL, "enum": list(REQUEST_NAMES),
    "description": "when not given: the gateway's --default-model",
}  # fmt: skip
_OPTION_SCHEMA = {"model": _MODEL_SCHEMA, **{name: _option_schema(name) for name in OPTIONS}}
_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {
                        FILE_FIELD: {"type": "string", "format": "binary"},
                        **_OPTION_SCHEMA,
                    },
                }
            }
        },
    }
}
_QUERY = {
    "parameters": [
        {"name": URL_FIELD, "in": "query", "required": True, "schema": {"type": "string"}},
        *(
            {"name": name, "in": "query", "schema": schema}
            for name, schema in _OPTION_SCHEMA.items()
            if schema.get("format") != "binary"  # an upload is not a query parameter
        ),
    ]
}
_IMAGE = {200: {"content": {t: {} for t in ("image/png", "image/webp", "image/jpeg")}}}


def _fields(request: Request, body: Mapping[str, str]) -> dict[str, str]:
    """The query's fields and the body's (rembg reads ``bgc`` from the query even on POST),
    each field given once in all."""
    query = request.query_params
    check_once((name for name, _ in query.multi_items()), " in the query")
    check_apart(query, body)
    return {**query, **body}


async def _answer(
    service: CutService, admission: Admission, data: bytes, model: str, options: OutputOptions
) -> Response:
    result = await service.cut(admission, data, model, options)
    return Response(result.data, media_type=MEDIA_TYPES[options.fmt])


@router.post("/api/remove", summary="Remove the background of an uploaded image",
             response_class=Response, responses=_IMAGE, openapi_extra=_FORM)  # fmt: skip
async def remove_upload(request: Request, service: Service) -> Response:
    async with service.admit() as admission:
        body = await read_form(request, service.config.max_upload_bytes)
        fields = _fields(request, body.fields)
        if FILE_FIELD not in body.files:
            got = ", ".join(sorted(fields)) or "no fields"
            raise BadRequest(f"expected a multipart file field {FILE_FIELD!r}, got {got}")
        background = body.files.get(BG_IMAGE_FIELD)
        default = service.config.default_model
        model, options = rembg_options(fields, FILE_FIELD, default, background)
        return await _answer(service, admission, body.files[FILE_FIELD], model, options)


@router.get("/api/remove", summary="Remove the background of an image at a URL",
            response_class=Response, responses=_IMAGE, openapi_extra=_QUERY)  # fmt: skip
async def remove_url(request: Request, service: Service) -> Response:
    fields = _fields(request, {})
    url = fields.get(URL_FIELD)
    if not url:
        raise BadRequest(f"expected a query parameter {URL_FIELD!r} (or POST a file)")
    model, options = rembg_options(fields, URL_FIELD, service.config.default_model)
    config = service.config
    async with service.admit() as admission:
        data = await fetch_image(url, config.fetch, config.max_upload_bytes)
        return await _answer(service, admission, data, model, options)
