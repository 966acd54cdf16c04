"""Operations endpoints: ``/healthz`` (the process answers) and ``/readyz`` (it can serve)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from .errors import error_response
from .runtime import RuntimeDep
from .schemas import Error, Health

__all__ = ["router"]

router = APIRouter(tags=["Operations"])


@router.get("/healthz", summary="The process is alive", response_model=Health)
async def healthz() -> JSONResponse:
    """Always 200 while the process answers."""
    return JSONResponse({"status": "ok"})


@router.get(
    "/readyz",
    summary="The database answers and a catalog is loaded",
    response_model=Health,
    responses={503: {"model": Error}},
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """200 when the server can take requests, 503 with the reason otherwise."""
    try:
        await runtime.store.ping()
    except (SQLAlchemyError, OSError):
        return error_response(503, "The database cannot be reached")
    if runtime.catalogs.catalog is None:
        return error_response(503, f"No catalog loaded yet: {runtime.catalogs.describe()}")
    return JSONResponse({"status": "ready"})
