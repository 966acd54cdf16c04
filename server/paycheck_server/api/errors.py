"""Every error as ``{"description": "..."}``: validation (400, not 422), 404, 405, 500.

FastAPI's validation errors become one 400 whose description names each field, for example
``"dateFrom: Input should be a valid date"`` or ``"serviceName is required"``. Unexpected
exceptions are logged with their traceback (never a request body) and answered with a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException

from ..errors import PaycheckServerError
from ..redaction import redact

__all__ = ["describe_validation", "error_response", "install_error_handlers"]

logger = logging.getLogger("paycheck_server")

# /token/check answers are cacheable by services; a malformed request must not be cached.
_CHECK_PATH = "/token/check"


def error_response(
    status_code: int, description: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A ``{"description": ...}`` answer with ``status_code``."""
    return JSONResponse({"description": description}, status_code, headers=dict(headers or {}))


def _field(location: Iterable[Any]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in ("body", "query", "header", "path"):
        parts = parts[1:]
    return ".".join(parts)


def describe_validation(errors: Iterable[Mapping[str, Any]]) -> str:
    """One sentence for a list of pydantic errors: ``"serviceName is required; dateTo: ..."``."""
    sentences: list[str] = []
    for error in errors:
        field = _field(error.get("loc", ()))
        kind = error.get("type")
        if kind == "json_invalid":
            sentence = "The request body is not valid JSON"
        elif kind == "missing" and not field:
            sentence = "A JSON request body is required"
        elif kind == "missing":
            sentence = f"{field} is required"
        elif kind == "model_attributes_type" or (kind == "dict_type" and not field):
            sentence = "The request body must be a JSON object (Content-Type: application/json)"
        else:
            message = str(error.get("msg", "is not valid"))
            sentence = f"{field}: {message}" if field else message
        if sentence not in sentences:
            sentences.append(sentence)
    return "; ".join(sentences) or "The request is not valid"


def _cache_headers(request: Request) -> dict[str, str]:
    return {"Cache-Control": "private, max-age=0"} if request.url.path == _CHECK_PATH else {}


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(400, describe_validation(exc.errors()), _cache_headers(request))


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PaycheckServerError)
    return error_response(exc.status_code, exc.description)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        description = f"No such endpoint: {request.method} {redact(request.url.path)}"
    elif exc.status_code == 405:
        allowed = headers.get("Allow") or headers.get("allow") or "another method"
        description = (
            f"{request.method} is not allowed on {redact(request.url.path)}; use {allowed}"
        )
    else:
        description = str(exc.detail)
    return error_response(exc.status_code, description, headers)


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("database error on %s %s: %s", request.method, request.url.path, exc)
    return error_response(
        503, "The database is unavailable; try again shortly", {"Retry-After": "1"}
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The traceback names the code path; request bodies and headers are not logged: they hold
    # artifacts and tokens.
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a ``{"description"}`` body."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(PaycheckServerError, _domain)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(InterfaceError, _database_down)
    app.add_exception_handler(Exception, _unexpected)
