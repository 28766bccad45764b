"""What the web UI asks besides cut-outs: ``GET /api/models`` (each model's measured speed and
agreement, from the manifest ``python -m convert`` staged it with) and ``POST /api/ab`` (two
models' masks of one photo and their agreement, computed as ``python -m client ab`` computes
it: the same decoding, the same 320×320 model input, :func:`u2net.agreement.compare_masks`).

``/api/ab`` is the gateway's one route that decodes a photo itself: ``client ab`` compares the
raw models' masks, which ``cutout`` does not return.
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from PIL import Image

from client.triton import AsyncTritonModel
from u2net.agreement import MaskAgreement, compare_masks, difference
from u2net.catalogue import MODEL_LABELS, REQUEST_NAMES, SERVED_NAMES, is_served_name
from u2net.errors import ServingError
from u2net.imaging import open_rgb, to_model_input
from u2net.manifests import read_manifest
from u2net.repository import ONNX_FILE, default_repository, staged_paths
from web.depends import KEY_REQUIRED, Service
from web.errors import BadRequest
from web.forms import read_form
from web.service import CutService
from web.timing import timed
from web.triton_link import http_error

router = APIRouter(tags=["web UI"])

AB_FIELDS = ("file", "model_a", "model_b")
AB_SPANS = {"model_a": "infer_a", "model_b": "infer_b"}  # Server-Timing's names


def measured(manifest: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What a staged model's manifest measured: an int8 variant's speed against fp32 and its
    agreement on held-out photos; None where it measured nothing (fp32 models)."""
    speed = manifest.get("speed") if manifest else None
    held = manifest.get("held_out") if manifest else None
    if not isinstance(speed, Mapping) or not isinstance(held, Mapping):
        return None
    return {
        "speedup": speed.get("speedup"),
        "ms": speed.get("int8_ms"),
        "reference_ms": speed.get("fp32_ms"),
        "photos": len(held.get("photos") or []),
        "inside_floor": held.get("inside_floor"),
        "worst_iou": held.get("worst_iou"),
    }


def model_entry(repository: Path, name: str) -> dict[str, Any]:
    served = name if is_served_name(name) else f"{name}_onnx"
    _, manifest = staged_paths(repository, served, ONNX_FILE)
    found = measured(read_manifest(manifest))
    return {"name": name, "label": MODEL_LABELS.get(name, name), "measured": found}


@router.get("/api/models", summary="The models a request may name, with what was measured")
async def models() -> dict[str, list[dict[str, Any]]]:
    """Measurements come from this host's model repository (where ``python -m convert`` staged
    the models); a gateway in front of a remote Triton may have none. No key needed, as for
    ``/readyz``: the page asks before anyone typed one."""
    repository = default_repository()
    return {"models": [model_entry(repository, name) for name in REQUEST_NAMES]}


def model_input(data: bytes, max_pixels: int) -> np.ndarray:
    """The photo as ``client ab`` sends it: decoded upright RGB, LANCZOS to [1, 320, 320, 3]."""
    try:
        return to_model_input(open_rgb(data, max_pixels))[None]
    except ServingError as e:
        raise BadRequest(str(e)) from e


def requested_model(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "")
    if value not in (*REQUEST_NAMES, *SERVED_NAMES):
        shown = ", ".join(REQUEST_NAMES)
        raise BadRequest(f"{name}: expected a model name ({shown} or a served name), got {value!r}")
    return value


async def mask_of(service: CutService, requested: str, batch: np.ndarray) -> tuple[str, np.ndarray]:
    """(the served name, its uint8 [320, 320] mask) of one raw-model request."""
    triton = service.triton
    model = AsyncTritonModel(triton.url, requested, triton.timeout_s, triton.retry)
    try:
        return await model.resolve(), (await model.infer(batch))[0]
    except ServingError as e:
        raise http_error(e, triton.url) from e
    finally:
        await model.close()


def png_base64(mask: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(mask, mode="L").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def ab_answer(models: dict[str, tuple[str, str]], masks: list[np.ndarray]) -> dict[str, Any]:
    if masks[0].shape != masks[1].shape:  # models of different input sizes
        sizes = " and ".join("×".join(map(str, m.shape)) for m in masks)
        raise BadRequest(f"model_a and model_b: expected masks of one size, got {sizes}")
    found: MaskAgreement = compare_masks(masks[0], masks[1])
    return {
        **{k: {"model": requested, "served": served} for k, (requested, served) in models.items()},
        "iou": found.iou,
        "mean_abs_diff": found.mean_abs_diff,
        "max_abs_diff": found.max_abs_diff,
        "mask_size": list(masks[0].shape[::-1]),
        "difference_png": png_base64(difference(masks[0], masks[1])),
    }


def ab_fields(fields: Mapping[str, str], files: Mapping[str, bytes]) -> dict[str, str]:
    """``model_a`` and ``model_b`` (checked), with a ``file`` and no other field."""
    if set(fields) - set(AB_FIELDS) or "file" not in files:
        expected = ", ".join(AB_FIELDS)
        raise BadRequest(f"expected the fields {expected}, got {', '.join(sorted(fields))}")
    return {key: requested_model(fields, key) for key in AB_SPANS}


async def masks_of(
    service: CutService, names: dict[str, str], data: bytes
) -> tuple[dict[str, tuple[str, str]], list[np.ndarray]]:
    """Each model's (requested, served) name and its mask of the photo, A's first."""
    batch = await asyncio.to_thread(model_input, data, service.config.max_pixels)
    models, masks = {}, []
    for key, name in names.items():
        with timed(AB_SPANS[key]):
            served, mask = await mask_of(service, name, batch)
        models[key] = (name, served)
        masks.append(mask)
    return models, masks


@router.post("/api/ab", summary="Two models' masks of one photo: their agreement, as client ab",
             dependencies=KEY_REQUIRED)  # fmt: skip
async def ab(request: Request, service: Service) -> dict[str, Any]:
    """Multipart ``file``, ``model_a``, ``model_b``: IoU at 0.5 and mean/max |Δ| of B's mask
    against A's at the models' 320×320, and |Δ| as a grey PNG (base64)."""
    async with service.admit() as admission:
        body = await read_form(request, service.config.max_upload_bytes)
        names = ab_fields(body.fields, body.files)
        for name in names.values():
            service.triton.refuse_if_not_loaded(name)
        photo = body.files["file"]
        async with admission.running(service.decode_weight(photo)):  # decoded here
            models, masks = await masks_of(service, names, photo)
    return ab_answer(models, masks)
