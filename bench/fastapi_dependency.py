"""Benchmark 3: what the FastAPI dependency ``Depends(paycheck.require())`` adds on a cache hit.

Two FastAPI apps with the same route, ``GET /getInfo`` answering ``{"ok": true}``, are called
in-process (no server, no network): one without the dependency and one with it, whose
validator already holds the token. For comparison, the first app is also measured behind
``PaycheckMiddleware``, the one-line alternative for a whole app, and the route with two empty
dependencies shows what FastAPI itself charges: an ``async def`` dependency that does nothing,
and one that also declares the ``Security(HTTPBearer)`` sub-dependency that puts the Bearer
scheme in OpenAPI (as Paycheck's does).

Run: ``python -m bench.fastapi_dependency [--quick] [--markdown PATH]``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from fastapi import Depends, FastAPI, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp

from paycheck_core import AccessDecision
from paycheck_core.tokens import generate_token
from paycheck_integrations.fastapi import Paycheck, PaycheckMiddleware

from ._harness import Table, VariantTimes, emit, interleaved, parse_args
from ._payments import MockPayments
from .asgi_overhead import AsgiDriver, http_scope

__all__ = ["main", "run"]


def plain_app() -> FastAPI:
    """``GET /getInfo`` with no token check."""
    app = FastAPI()

    @app.get("/getInfo")
    async def get_info() -> dict[str, bool]:
        return {"ok": True}

    return app


def paid_app(paycheck: Paycheck) -> FastAPI:
    """``GET /getInfo`` behind ``Depends(paycheck.require())``."""
    app = FastAPI()

    @app.get("/getInfo")
    async def get_info(
        grant: AccessDecision | None = Depends(paycheck.require()),  # noqa: B008 - FastAPI's dependency idiom
    ) -> dict[str, bool]:
        return {"ok": True}

    return app


def app_with(dependency: Callable[..., Awaitable[None]]) -> FastAPI:
    """``GET /getInfo`` behind ``Depends(dependency)``."""
    app = FastAPI()

    @app.get("/getInfo")
    async def get_info(
        grant: None = Depends(dependency),
    ) -> dict[str, bool]:
        return {"ok": True}

    return app


async def nothing() -> None:
    """An empty dependency."""


_SCHEME = HTTPBearer(auto_error=False)


async def nothing_but_the_scheme(
    connection: HTTPConnection,
    credentials: HTTPAuthorizationCredentials | None = Security(_SCHEME),  # noqa: B008 - FastAPI's dependency idiom
) -> None:
    """An empty dependency with the Bearer scheme as a sub-dependency, as Paycheck's has."""


def run(*, quick: bool = False) -> list[Table]:
    """Measure the five apps and return the table."""
    number, repeats = (100, 3) if quick else (10_000, 9)
    token = generate_token()
    scope = http_scope("/getInfo", token)
    payments = MockPayments()
    behind_middleware = plain_app()
    behind_middleware.add_middleware(PaycheckMiddleware, validator=payments.async_validator())
    apps: dict[str, ASGIApp] = {
        "route without dependency": plain_app(),
        "+ Depends(paycheck.require()) (cache hit)": paid_app(
            Paycheck(validator=payments.async_validator())
        ),
        "+ PaycheckMiddleware instead (cache hit)": behind_middleware,
        "+ an empty dependency (floor)": app_with(nothing),
        "+ an empty dependency with Security(HTTPBearer)": app_with(nothing_but_the_scheme),
    }
    loop = asyncio.new_event_loop()
    try:
        driver = AsgiDriver(loop)
        for name, app in apps.items():  # also warms both caches: one check each, then hits
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


def _table(times: VariantTimes, number: int, repeats: int, names: Sequence[str]) -> Table:
    bare = names[0]
    table = Table(
        "3. FastAPI dependency on a cache hit (in-process FastAPI calls)",
        ["app", "µs/request", "added µs/request", "throughput vs bare"],
    )
    for name in names:
        added = "—" if name == bare else times.added(name, bare).format(1e6)
        ratio = "1.00" if name == bare else times.ratio(name, bare).format(digits=3)
        table.add(name, times.of(name).format(1e6), added, ratio)
    table.notes.append(
        f"median [min, max] of {repeats} repeats of {number:,} requests each, variants interleaved"
    )
    return table


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark from the command line."""
    args = parse_args(__doc__.splitlines()[0], argv)
    emit(run(quick=args.quick), args.markdown)


if __name__ == "__main__":
    main()
