"""``GET /``: where a person who opens the server's address finds its documentation.

Kept out of the OpenAPI contracts: it is for people, not for clients or services.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .._version import __version__

__all__ = ["DOCUMENTATION", "router"]

DOCUMENTATION = "the docs/ folder of the paycheck-suite source (browse it with: mkdocs serve)"
"""Where the guides are; the package ships no site address of its own."""

router = APIRouter()


@router.get("/", include_in_schema=False)
async def home(request: Request) -> JSONResponse:
    """Name the interactive API docs, the OpenAPI document and the guides."""
    app = request.app
    return JSONResponse(
        {
            "description": (
                f"Paycheck payment server {__version__}. The API is described at "
                f"{app.docs_url} (interactive) and {app.openapi_url}; the guides are in "
                f"{DOCUMENTATION}."
            ),
            "docs": app.docs_url,
            "openapi": app.openapi_url,
            "documentation": DOCUMENTATION,
            "health": "/healthz",
            "ready": "/readyz",
        }
    )
