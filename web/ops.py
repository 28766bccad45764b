"""Operations: ``/healthz`` (the process answers), ``/readyz`` (Triton and ``cutout`` ready),
``/metrics`` (Prometheus text; behind the API keys when there are keys)."""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import JSONResponse, Response

from web.depends import KEY_REQUIRED, Service

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The gateway process is alive")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Triton and the cutout model are ready")
async def readyz(service: Service) -> JSONResponse:
    reason = await service.triton.not_ready_reason()
    if reason is not None:
        return JSONResponse(
            {"status": "not ready", "detail": reason}, status_code=503, headers={"Retry-After": "5"}
        )
    return JSONResponse({"status": "ready"})


@router.get("/metrics", summary="Prometheus metrics", dependencies=KEY_REQUIRED)
async def metrics(service: Service) -> Response:
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)
