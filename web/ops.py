"""Operations: ``/healthz`` (the process answers), ``/readyz`` (503 until Triton's ``cutout``
was ready once; then 200 with the circuit breaker's state, even while Triton is down:
docs/resilience.md says why), ``/metrics`` (Prometheus text; behind the API keys when there
are keys)."""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import JSONResponse, Response

from web.depends import KEY_REQUIRED, Service

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The gateway process is alive")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="The gateway reached Triton's cutout model; the breaker's state")
async def readyz(service: Service) -> JSONResponse:
    ready, body = await service.triton.readiness()
    if not ready:
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
    return JSONResponse(body)


@router.get("/metrics", summary="Prometheus metrics", dependencies=KEY_REQUIRED)
async def metrics(service: Service) -> Response:
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)
