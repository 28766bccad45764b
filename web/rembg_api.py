"""rembg's HTTP API: ``POST /api/remove`` (multipart ``file``) and ``GET /api/remove?url=``.

Options come as form fields or query parameters (rembg reads ``bgc`` from the query even on
POST); the answer is the image (``image/png`` unless ``format`` says otherwise).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from u2net.options import OutputOptions
from web.capacity import Admission
from web.errors import BadRequest
from web.fetch import fetch_image
from web.forms import read_form
from web.rembg_params import FILE_FIELD, URL_FIELD, rembg_options
from web.removebg_params import MEDIA_TYPES
from web.service import CutService

router = APIRouter(tags=["rembg"])

_OPTION_SCHEMA = {
    "model": {"type": "string", "default": "u2net", "enum": ["u2net", "u2netp"]},
    "a": {"type": "boolean", "default": False, "description": "alpha matting"},
    "af": {"type": "integer", "default": 240, "description": "matting foreground threshold"},
    "ab": {"type": "integer", "default": 10, "description": "matting background threshold"},
    "ae": {"type": "integer", "default": 10, "description": "matting erode size"},
    "om": {"type": "boolean", "default": False, "description": "only the mask"},
    "ppm": {"type": "boolean", "default": False, "description": "post-process the mask"},
    "bgc": {"type": "string", "description": "background colour r,g,b[,a]", "example": "0,0,0,255"},
    "format": {"type": "string", "default": "png", "enum": ["png", "webp", "jpg"]},
}  # fmt: skip
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
        *({"name": k, "in": "query", "schema": v} for k, v in _OPTION_SCHEMA.items()),
    ]
}
_IMAGE = {200: {"content": {t: {} for t in ("image/png", "image/webp", "image/jpeg")}}}


def _service(request: Request) -> CutService:
    return request.app.state.service


async def _answer(
    service: CutService, admission: Admission, data: bytes, model: str, options: OutputOptions
) -> Response:
    result = await service.cut(admission, data, model, options)
    return Response(result.data, media_type=MEDIA_TYPES[options.fmt])


@router.post("/api/remove", summary="Remove the background of an uploaded image",
             response_class=Response, responses=_IMAGE, openapi_extra=_FORM)  # fmt: skip
async def remove_upload(request: Request) -> Response:
    service = _service(request)
    service.authorize(request)
    async with service.admit() as admission:
        body = await read_form(request, service.config.max_upload_bytes)
        fields = {**request.query_params, **body.fields}
        if FILE_FIELD not in body.files:
            got = ", ".join(sorted(fields)) or "no fields"
            raise BadRequest(f"expected a multipart file field {FILE_FIELD!r}, got {got}")
        model, options = rembg_options(fields, FILE_FIELD, service.config.default_model)
        return await _answer(service, admission, body.files[FILE_FIELD], model, options)


@router.get("/api/remove", summary="Remove the background of an image at a URL",
            response_class=Response, responses=_IMAGE, openapi_extra=_QUERY)  # fmt: skip
async def remove_url(request: Request) -> Response:
    service = _service(request)
    service.authorize(request)
    fields = dict(request.query_params)
    url = fields.get(URL_FIELD)
    if not url:
        raise BadRequest(f"expected a query parameter {URL_FIELD!r} (or POST a file)")
    model, options = rembg_options(fields, URL_FIELD, service.config.default_model)
    config = service.config
    async with service.admit() as admission:
        data = await fetch_image(url, config.fetch, config.max_upload_bytes)
        return await _answer(service, admission, data, model, options)
