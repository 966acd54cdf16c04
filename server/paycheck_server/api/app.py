"""The app factory: :func:`create_app` builds the FastAPI app of the payment server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from .._version import __version__
from ..catalog import demo_catalog, load_catalog_file
from ..clock import Clock, SystemClock
from ..db import create_engine
from ..events import FeedHub, purge_periodically
from ..openapi import install_openapi
from ..payments import PaymentProvider, SandboxProvider
from ..redaction import install_redaction, redact_handlers
from ..registry import CatalogSource, RegistryCatalog, StaticCatalog
from ..settings import Settings
from ..store import Store
from . import client, feed, ops, service
from .body_limit import BodyLimitMiddleware
from .errors import install_error_handlers
from .header_limit import HeaderLimitMiddleware
from .runtime import Runtime

__all__ = ["app_from_environment", "catalog_source", "create_app"]


def catalog_source(settings: Settings) -> CatalogSource:
    """The catalog source ``settings`` ask for: the registry, a file, or the demo catalog.

    Raises:
        paycheck_server.catalog.CatalogError: the catalog file cannot be used.
    """
    if settings.registry_url is not None:
        return RegistryCatalog(
            settings.registry_url, refresh_seconds=settings.registry_refresh_seconds
        )
    if settings.catalog is not None:
        return StaticCatalog(load_catalog_file(settings.catalog))
    return StaticCatalog(demo_catalog())


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    provider: PaymentProvider | None = None,
    catalogs: CatalogSource | None = None,
) -> FastAPI:
    """Build the payment server's app.

    The database must be migrated (``paycheck-server migrate``, or
    :func:`paycheck_server.migrate.upgrade`); ``paycheck-server serve`` does it before it
    starts. The app's lifespan refreshes a registry catalog, purges old token events and, at
    the end, stops the token-event feed and closes the database pool; the feed starts with its
    first follower.

    The app refuses request heads and bodies past the limits of ``settings`` (414, 431,
    413), and adds :class:`~paycheck_server.redaction.RedactSecrets` to uvicorn's loggers and
    its own, so that no token or artifact reaches their logs.

    Args:
        settings: the settings; read from ``PAYCHECK_*`` variables when omitted.
        clock: the clock (tests pass :class:`paycheck_server.testing.FakeClock`).
        provider: the payment provider; the sandbox by default.
        catalogs: the catalog source; by default the one ``settings`` describe.

    Example::

        app = create_app(Settings(database_url="sqlite+aiosqlite:///paycheck.db"))
    """
    settings = settings or Settings()
    clock = clock or SystemClock()
    store = Store(create_engine(settings.database_url), clock=clock)
    runtime = Runtime(
        settings=settings,
        store=store,
        clock=clock,
        catalogs=catalogs or catalog_source(settings),
        provider=provider or SandboxProvider(),
        feed=FeedHub(store.engine, poll_seconds=settings.feed_poll_seconds),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(runtime.catalogs.run()),
            asyncio.create_task(
                purge_periodically(
                    store.engine, clock=clock, retention_seconds=settings.feed_retention_seconds
                )
            ),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await runtime.aclose()

    app = FastAPI(
        title="Paycheck payment server",
        version=__version__,
        description="Bills, payments and access tokens for paid API access.",
        lifespan=lifespan,
        # Clients like `curl -d` send JSON without a JSON content type; no endpoint relies on
        # cookies (every one needs a secret in its body), so the cross-site check buys nothing.
        strict_content_type=False,
    )
    app.state.paycheck = runtime
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    # Added last, so it runs first: a head too large is refused before anything else.
    app.add_middleware(
        HeaderLimitMiddleware,
        max_header_bytes=settings.max_header_bytes,
        max_headers=settings.max_headers,
    )
    # Request lines and error messages may quote a token sent where it does not belong.
    install_redaction()
    # The router tries routes in order, and /token/check is what services call all day: first.
    app.include_router(service.router)
    app.include_router(feed.router)
    app.include_router(client.router)
    app.include_router(ops.router)
    install_openapi(app)
    return app


def app_from_environment() -> FastAPI:
    """The app configured by ``PAYCHECK_*`` variables (what ``paycheck-server serve`` runs).

    It also puts the log handlers of the process (the root logger's and uvicorn's) behind
    :class:`~paycheck_server.redaction.RedactSecrets`, so that no log line of any logger
    shows a token or an artifact.
    """
    app = create_app(Settings())
    redact_handlers()
    return app
