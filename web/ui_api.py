"""What the web UI asks besides cut-outs: ``GET /api/models`` (the catalogue's models with their
measured speed and agreement, from the manifest ``python -m convert`` staged each with, then
the custom models staged here) and ``POST /api/ab`` (two models' masks of one photo and their
agreement, computed as ``python -m client ab`` computes it: the same decoding, each model's
input at its own size, B's mask on A's grid, :func:`u2net.agreement.compare_masks`).

``/api/ab`` is the gateway's one route that decodes a photo itself: ``client ab`` compares the
raw models' masks, which ``cutout`` does not return.
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from PIL import Image

from client.triton import AsyncTritonModel
from u2net.agreement import MaskAgreement, compare_masks, difference
from u2net.catalogue import (
    CUSTOM_NAME,
    KNOWN_MODELS,
    MODEL_LABELS,
    REQUEST_NAMES,
    SERVED_NAMES,
    base_name,
    is_served_name,
)
from u2net.contract import ServingContract
from u2net.errors import ServingError
from u2net.image.io import open_rgb
from u2net.image.render import mask_on_grid, to_model_input
from u2net.repository.layout import ONNX_FILE, default_repository, staged_paths
from u2net.repository.manifests import custom_models, read_manifest
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
    family = KNOWN_MODELS[base_name(name)].family
    label = MODEL_LABELS.get(name, name)
    return {"name": name, "label": label, "measured": found, "family": family, "custom": False}


def custom_entry(name: str, family: str) -> dict[str, Any]:
    """A custom model staged here (``python -m convert custom``): nothing measured."""
    label = f"{name} (custom, {family} family)"
    return {"name": name, "label": label, "measured": None, "family": family, "custom": True}


@router.get("/api/models", summary="The models a request may name, with what was measured")
async def models() -> dict[str, list[dict[str, Any]]]:
    """The catalogue's names, then the custom models staged in this host's model repository.
    Measurements come from that repository (where ``python -m convert`` staged the models); a
    gateway in front of a remote Triton may have none, and lists no custom model. No key
    needed, as for ``/readyz``: the page asks before anyone typed one."""
    repository = default_repository()
    catalogue = [model_entry(repository, name) for name in REQUEST_NAMES]
    custom = [custom_entry(name, family) for name, family in custom_models(repository).items()]
    return {"models": [*catalogue, *custom]}


def decoded(data: bytes, max_pixels: int) -> Image.Image:
    """The photo as ``client ab`` decodes it: upright RGB; BadRequest when it is not one."""
    try:
        return open_rgb(data, max_pixels)
    except ServingError as e:
        raise BadRequest(str(e)) from e


def model_inputs(rgb: Image.Image, contracts: Sequence[ServingContract]) -> list[np.ndarray]:
    """The photo as ``client ab`` sends it to each model: LANCZOS to [1, size, size, 3] at
    that model's size (one array per distinct size, shared by models of one size)."""
    by_size = {contract.size: contract for contract in contracts}
    inputs = {size: to_model_input(rgb, contract)[None] for size, contract in by_size.items()}
    return [inputs[contract.size] for contract in contracts]


def requested_model(fields: Mapping[str, str], name: str) -> str:
    """A catalogue or served name, or one a custom model may have (whether the server has it
    loaded is asked next: :meth:`web.triton_link.TritonLink.learn_custom`)."""
    value = fields.get(name, "")
    if value in (*REQUEST_NAMES, *SERVED_NAMES) or CUSTOM_NAME.fullmatch(value):
        return value
    shown = ", ".join(REQUEST_NAMES)
    raise BadRequest(
        f"{name}: expected a model name ({shown}, a custom model's or a served name), got {value!r}"
    )


async def resolved_inputs(
    models: Mapping[str, AsyncTritonModel], data: bytes, max_pixels: int
) -> list[np.ndarray]:
    """The photo decoded (a bad one refused before Triton is asked), each model resolved (its
    contract sized as served), then the photo at each model's size, A's first."""
    rgb = await asyncio.to_thread(decoded, data, max_pixels)
    for key, model in models.items():
        with timed(AB_SPANS[key]):
            await model.resolve()
    contracts = [model.contract for model in models.values()]
    return await asyncio.to_thread(model_inputs, rgb, contracts)


def png_base64(mask: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(mask, mode="L").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def ab_answer(models: dict[str, tuple[str, str]], masks: list[np.ndarray]) -> dict[str, Any]:
    """B's mask against A's on A's grid (B's resized there with LANCZOS when the models' input
    sizes differ); ``mask_size`` is where they were compared, ``b_mask_size`` B's as served."""
    a, b = masks[0], mask_on_grid(masks[1], masks[0].shape)
    found: MaskAgreement = compare_masks(a, b)
    return {
        **{k: {"model": requested, "served": served} for k, (requested, served) in models.items()},
        "iou": found.iou,
        "mean_abs_diff": found.mean_abs_diff,
        "max_abs_diff": found.max_abs_diff,
        "mask_size": list(a.shape[::-1]),
        "b_mask_size": list(masks[1].shape[::-1]),
        "difference_png": png_base64(difference(a, b)),
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
    """Each model's (requested, served) name and its uint8 mask of the photo at its own input
    size, A's first."""
    triton = service.triton
    models = {
        key: AsyncTritonModel(triton.url, name, timeout_s=triton.timeout_s, retry=triton.retry)
        for key, name in names.items()
    }
    try:
        batches = await resolved_inputs(models, data, service.config.max_pixels)
        found, masks = {}, []
        for (key, model), batch in zip(models.items(), batches, strict=True):
            with timed(AB_SPANS[key]):
                masks.append((await model.infer(batch))[0])
            found[key] = (model.requested, await model.resolve())
        return found, masks
    except ServingError as e:
        raise http_error(e, triton.url) from e
    finally:
        for model in models.values():
            await model.close()


@router.post("/api/ab", summary="Two models' masks of one photo: their agreement, as client ab",
             dependencies=KEY_REQUIRED)  # fmt: skip
async def ab(request: Request, service: Service) -> dict[str, Any]:
    """Multipart ``file``, ``model_a``, ``model_b`` (catalogue, custom or served names): IoU at
    0.5 and mean/max |Δ| of B's mask against A's, each model given the photo at its own input
    size and B's mask compared on A's grid, and |Δ| as a grey PNG (base64)."""
    async with service.admit() as admission:
        body = await read_form(request, service.config.max_upload_bytes)
        names = ab_fields(body.fields, body.files)
        for field, name in names.items():
            await service.triton.learn_custom(name)
            service.triton.refuse_if_not_loaded(name, field)
        photo = body.files["file"]
        async with admission.running(service.decode_weight(photo)):  # decoded here
            models, masks = await masks_of(service, names, photo)
    return await asyncio.to_thread(ab_answer, models, masks)  # a resize and a PNG: off the loop
