"""Where the catalog comes from at run time: a fixed catalog, or the seed's service registry.

:class:`RegistryCatalog` reads ``GET {url}/allServices`` at start and every
``refresh_seconds``; when a read fails (unreachable, 5xx, not the registry's format) it logs a
warning and keeps serving the last good copy.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

import httpx

from .catalog import Catalog, CatalogError, parse_registry

__all__ = ["CatalogSource", "RegistryCatalog", "StaticCatalog"]

logger = logging.getLogger("paycheck_server.registry")


class CatalogSource(Protocol):
    """Gives the catalog in force; ``None`` until one has been loaded."""

    @property
    def catalog(self) -> Catalog | None:
        """The current catalog, or ``None`` when none was ever loaded."""
        ...

    def describe(self) -> str:
        """Where the catalog comes from, for the startup line."""
        ...

    async def run(self) -> None:
        """Keep the catalog fresh until cancelled (returns at once for a fixed catalog)."""
        ...

    async def aclose(self) -> None:
        """Release what the source holds (connections)."""
        ...


class StaticCatalog:
    """A catalog that never changes (the demo catalog or a file)."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    @property
    def catalog(self) -> Catalog:
        """The catalog."""
        return self._catalog

    def describe(self) -> str:
        """``"demo (2 services, 5 methods for sale)"``."""
        return self._catalog.describe()

    async def run(self) -> None:
        """Nothing to refresh."""

    async def aclose(self) -> None:
        """Nothing to release."""


class RegistryCatalog:
    """The catalog read from the seed's service registry, refreshed periodically.

    Args:
        url: the registry's base URL; ``/allServices`` is appended.
        refresh_seconds: the pause between two reads.
        timeout: seconds to wait for the registry.
        transport: an httpx transport (tests pass ``httpx.MockTransport``).

    Raises:
        ValueError: ``url`` is not http(s) or a duration is not positive.
    """

    def __init__(
        self,
        url: str,
        *,
        refresh_seconds: float = 60.0,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url must be an http:// or https:// URL, not {url!r}")
        if refresh_seconds <= 0 or timeout <= 0:
            raise ValueError("refresh_seconds and timeout must be positive numbers of seconds")
        self.url = url.rstrip("/")
        self.refresh_seconds = refresh_seconds
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)
        self._catalog: Catalog | None = None
        self.last_error: str | None = None

    @property
    def catalog(self) -> Catalog | None:
        """The last catalog read successfully, or ``None`` before the first success."""
        return self._catalog

    def describe(self) -> str:
        """``"registry http://..."`` and what it holds when read."""
        if self._catalog is None:
            return f"registry {self.url} (not read yet)"
        return self._catalog.describe()

    async def refresh(self) -> bool:
        """Read the registry once; keep the last good copy on failure. True when it succeeded."""
        source = f"registry {self.url}"
        try:
            response = await self._http.get(f"{self.url}/allServices")
            response.raise_for_status()
            self._catalog = parse_registry(response.json(), source=source)
        except (httpx.HTTPError, CatalogError, ValueError) as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.warning("cannot read the %s, keeping the last good copy: %s", source, exc)
            return False
        self.last_error = None
        return True

    async def run(self) -> None:
        """Read the registry now and then every ``refresh_seconds``, until cancelled."""
        while True:
            await self.refresh()
            await asyncio.sleep(self.refresh_seconds)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()
