"""Four small services, one per adapter, each a process of its own: ``python feed_apps.py KIND``.

Used by ``tests/e2e/test_feed_services.py`` and by ``bench/freshness.py`` to follow the
token-event feed with real processes. ``KIND`` is ``asgi`` (Starlette + ``PaycheckMiddleware``
on uvicorn), ``fastapi`` (the ``Paycheck.require()`` dependency on uvicorn), ``wsgi``
(``PaycheckWSGIMiddleware`` on a threaded ``wsgiref`` server) or ``flask`` (the extension on
werkzeug's threaded server). Each sells ``GET /getInfo`` of the demo catalog's
"Online marketplace" with a validator made with ``ttl=3600``, and answers ``GET /stats``
(no token needed; ``/healthz`` too) with the validator's counters as JSON.

Options: ``--port N``; ``--no-follow`` makes the validator with ``follow=False``. The payment
server is ``PAYCHECK_SERVER_URL``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

SERVICE = "Online marketplace"
TTL = 3600.0
OPEN = ["/stats", "/healthz"]  # paths that need no token


def stats_of(validator: Any) -> dict[str, Any]:
    """The validator's :class:`~paycheck_core.ValidatorStats` as JSON-ready data."""
    return dataclasses.asdict(validator.stats)


def asgi_app(url: str, follow: bool) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from paycheck_core import AsyncTokenValidator
    from paycheck_integrations.asgi import PaycheckMiddleware

    validator = AsyncTokenValidator(url, SERVICE, ttl=TTL, follow=follow)

    async def get_info(request: Request) -> JSONResponse:
        return JSONResponse({"method": request.state.paycheck.method})

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse(stats_of(validator))

    app = Starlette(
        routes=[
            Route("/getInfo", get_info, name="getInfo"),
            Route("/stats", stats, name="stats"),
            Route("/healthz", stats, name="healthz"),
        ]
    )
    app.add_middleware(PaycheckMiddleware, validator=validator, exclude_paths=OPEN)
    return app


def fastapi_app(url: str, follow: bool) -> Any:
    from fastapi import Depends, FastAPI

    from paycheck_core import AsyncTokenValidator
    from paycheck_integrations.fastapi import Paycheck

    validator = AsyncTokenValidator(url, SERVICE, ttl=TTL, follow=follow)
    paycheck = Paycheck(validator=validator)
    app = FastAPI()

    @app.get("/getInfo")
    async def getInfo(grant: Any = Depends(paycheck.require())) -> Any:  # noqa: N802, B008 - the method's name; FastAPI's idiom
        return {"method": grant.method}

    @app.get("/stats")
    @app.get("/healthz")
    async def stats() -> Any:
        return stats_of(validator)

    return app


def wsgi_app(url: str, follow: bool) -> Any:
    from paycheck_core import TokenValidator
    from paycheck_integrations.wsgi import GRANT_KEY, PaycheckWSGIMiddleware

    validator = TokenValidator(url, SERVICE, ttl=TTL, follow=follow)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") in OPEN:
            body = stats_of(validator)
        else:
            body = {"method": environ[GRANT_KEY].method}
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    return PaycheckWSGIMiddleware(app, validator=validator, exclude_paths=OPEN)


def flask_app(url: str, follow: bool) -> Any:
    from flask import Flask

    from paycheck_core import TokenValidator
    from paycheck_integrations.flask import Paycheck, current_grant

    validator = TokenValidator(url, SERVICE, ttl=TTL, follow=follow)
    app = Flask(__name__)
    Paycheck(app, validator=validator, exclude_paths=OPEN)
    app.add_url_rule("/getInfo", "getInfo", lambda: {"method": current_grant.method})
    app.add_url_rule("/stats", "stats", lambda: stats_of(validator))
    app.add_url_rule("/healthz", "healthz", lambda: stats_of(validator))
    return app


APPS = {"asgi": asgi_app, "fastapi": fastapi_app, "wsgi": wsgi_app, "flask": flask_app}


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(APPS))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--no-follow", action="store_true")
    options = parser.parse_args()
    url = os.environ["PAYCHECK_SERVER_URL"]
    app = APPS[options.kind](url, not options.no_follow)
    if options.kind in {"asgi", "fastapi"}:
        import uvicorn

        uvicorn.run(app, host="127.0.0.1", port=options.port, log_level="warning")
    elif options.kind == "flask":
        import logging

        from werkzeug.serving import make_server as werkzeug_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        werkzeug_server("127.0.0.1", options.port, app, threaded=True).serve_forever()
    else:
        server = make_server(
            "127.0.0.1",
            options.port,
            app,
            server_class=_ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
        server.serve_forever()


if __name__ == "__main__":
    main()
