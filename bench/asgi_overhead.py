"""Benchmark 1: what ``PaycheckMiddleware`` adds to an ASGI request on a cache hit.

A minimal Starlette app (one route answering ``ok``) is called in-process, with no server and
no network, in three forms: bare; behind ``PaycheckMiddleware`` whose validator already holds
the token (the cache is warmed first and the mocked payment server must see no check while we
measure); and behind Starlette's own ``AuthenticationMiddleware`` with a backend that reads the
Bearer token and looks it up in a dict, which is what a careful author would write by hand.

Target: Paycheck adds at most 2 µs per request, and no more than the hand-written middleware.

Run: ``python -m bench.asgi_overhead [--quick] [--markdown PATH]``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    SimpleUser,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paycheck_core.tokens import generate_token
from paycheck_integrations.asgi import PaycheckMiddleware

from ._harness import Table, emit, interleaved, parse_args
from ._payments import MockPayments

__all__ = ["AsgiDriver", "http_scope", "main", "run"]

TARGET_US = 2.0


def http_scope(path: str, token: str) -> dict[str, Any]:
    """The ASGI scope of ``GET path`` with ``Authorization: Bearer token``, as uvicorn makes it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"service.bench"),
            (b"user-agent", b"bench"),
            (b"accept", b"*/*"),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},  # uvicorn passes a copy of the lifespan state with every request
    }


class AsgiDriver:
    """Calls an ASGI app in-process on one event loop, as a server would, minus the socket."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def status(self, app: ASGIApp, scope: dict[str, Any]) -> int:
        """The status ``app`` answers to ``scope`` (to check a variant before timing it)."""
        statuses: list[int] = []

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        self.loop.run_until_complete(app(dict(scope), _receive, send))
        return statuses[0]

    def runner(self, app: ASGIApp, scope: dict[str, Any]) -> Callable[[int], None]:
        """A callable making ``n`` requests of ``scope`` to ``app``."""

        async def many(n: int) -> None:
            for _ in range(n):
                # A fresh scope per request, as a server makes: the apps write into it.
                await app(dict(scope), _receive, _discard)

        return lambda n: self.loop.run_until_complete(many(n))


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _discard(message: Message) -> None:
    return None


async def get_info(request: Request) -> Response:
    return PlainTextResponse("ok")


class PassThrough:
    """An empty pure-ASGI middleware: the cost of any middleware layer, doing nothing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class DictBackend(AuthenticationBackend):
    """The hand-written alternative: read the Bearer token, look it up in a dict."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self.tokens = tokens

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        header = conn.headers.get("authorization")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            raise AuthenticationError("Use the Bearer scheme.")
        user = self.tokens.get(token)
        if user is None:
            raise AuthenticationError("Invalid token.")
        return AuthCredentials(["paid"]), SimpleUser(user)


def run(*, quick: bool = False) -> list[Table]:
    """Measure the three apps and return the table."""
    number, repeats = (200, 3) if quick else (20_000, 9)
    token = generate_token()
    scope = http_scope("/getInfo", token)
    payments = MockPayments()
    validator = payments.async_validator()
    routes = [Route("/getInfo", get_info)]
    apps: dict[str, ASGIApp] = {
        "bare Starlette": Starlette(routes=routes),
        "+ empty pure-ASGI middleware": Starlette(
            routes=routes, middleware=[Middleware(PassThrough)]
        ),
        "+ PaycheckMiddleware (cache hit)": Starlette(
            routes=routes, middleware=[Middleware(PaycheckMiddleware, validator=validator)]
        ),
        "+ AuthenticationMiddleware (dict lookup)": Starlette(
            routes=routes,
            middleware=[
                Middleware(AuthenticationMiddleware, backend=DictBackend({token: "client"}))
            ],
        ),
    }
    loop = asyncio.new_event_loop()
    try:
        driver = AsgiDriver(loop)
        for name, app in apps.items():  # also warms Paycheck's cache: one check, then hits
            status = driver.status(app, scope)
            if status != 200:
                raise RuntimeError(f"{name} answered {status}, not 200: the bench is broken")
        checks_before = payments.calls
        times = interleaved(
            {name: driver.runner(app, scope) for name, app in apps.items()},
            number=number,
            repeats=repeats,
        )
    finally:
        loop.close()
    if payments.calls != checks_before:
        raise RuntimeError("the payment server was asked while measuring cache hits")
    return [_table(times, number, repeats, list(apps))]


def _table(times: Any, number: int, repeats: int, names: Sequence[str]) -> Table:
    bare, _, paycheck, handmade = names
    table = Table(
        "1. ASGI overhead on a cache hit (in-process Starlette calls)",
        ["app", "µs/request", "added µs/request", "throughput vs bare"],
    )
    for name in names:
        added = "—" if name == bare else times.added(name, bare).format(1e6)
        ratio = "1.00" if name == bare else times.ratio(name, bare).format(digits=3)
        table.add(name, times.of(name).format(1e6), added, ratio)
    ours = times.added(paycheck, bare).median * 1e6
    theirs = times.added(handmade, bare).median * 1e6
    met = ours <= TARGET_US and ours <= theirs
    table.notes += [
        f"median [min, max] of {repeats} repeats of {number:,} requests each, variants interleaved",
        f"target: Paycheck adds ≤ {TARGET_US:g} µs and ≤ AuthenticationMiddleware "
        f"({theirs:.2f} µs): {'met' if met else 'MISSED'} ({ours:.2f} µs)",
    ]
    return table


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark from the command line."""
    args = parse_args(__doc__.splitlines()[0], argv)
    emit(run(quick=args.quick), args.markdown)


if __name__ == "__main__":
    main()
