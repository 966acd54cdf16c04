"""What the routes share: settings, store, clock, catalog source, payment provider, feed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from ..catalog import Catalog
from ..clock import Clock
from ..errors import UnavailableError
from ..events import FeedHub
from ..payments import PaymentProvider
from ..registry import CatalogSource
from ..settings import Settings
from ..store import Store

__all__ = ["Runtime", "RuntimeDep", "get_runtime"]


@dataclass(frozen=True, slots=True)
class Runtime:
    """The server's parts, kept on ``app.state.paycheck``."""

    settings: Settings
    store: Store
    clock: Clock
    catalogs: CatalogSource
    provider: PaymentProvider
    feed: FeedHub

    def catalog(self) -> Catalog:
        """The catalog in force.

        Raises:
            UnavailableError: no catalog has been loaded yet (the registry was never reachable).
        """
        catalog = self.catalogs.catalog
        if catalog is None:
            raise UnavailableError(
                f"The service catalog is not loaded yet ({self.catalogs.describe()}); "
                "try again shortly"
            )
        return catalog

    async def aclose(self) -> None:
        """Stop the token-event feed, close the catalog source and the database pool."""
        await self.feed.aclose()
        await self.catalogs.aclose()
        await self.store.aclose()


async def get_runtime(request: Request) -> Runtime:
    """The runtime of the app serving ``request``."""
    # async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread
    # hop per request that, under load, waits for the GIL behind the event loop.
    runtime: Runtime = request.app.state.paycheck
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
