"""The baseline of benchmarks 5 and 6: a bare FastAPI endpoint answering constant JSON.

It listens on the same path as the payment server's check, ``POST /token/check``, and is
served by uvicorn exactly as ``paycheck-server`` serves itself (one worker, the same event
loop and HTTP parser, no access log), so that the difference is the check's own work: reading
the body, a database query, the decision.

Run: ``uvicorn bench._bare_app:app``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

__all__ = ["app"]

app = FastAPI()

_ANSWER = {
    "allowed": True,
    "serviceName": "Online marketplace",
    "methodName": "getInfo",
    "paidUntil": "2026-12-31",
    "message": "Access granted",
}


@app.post("/token/check")
async def check() -> JSONResponse:
    """The same answer every time, without reading the request."""
    return JSONResponse(_ANSWER, headers={"Cache-Control": "private, max-age=3600"})


@app.get("/healthz")
async def healthz() -> JSONResponse:
    """200 once the server is up."""
    return JSONResponse({"status": "ok"})
