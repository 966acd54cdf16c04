"""The catalog: which services sell which methods, at what price per day.

Three sources share one format in memory (:class:`Catalog`):

- the demo catalog shipped in the package (``demo_catalog.toml``), used when nothing else is
  configured, so that ``paycheck-server`` runs with no setup;
- a TOML or JSON file (``--catalog FILE``) in the same shape as the demo catalog;
- the seed's service registry (``GET {registry}/allServices``), parsed by
  :func:`parse_registry` and refreshed by :class:`paycheck_server.registry.RegistryCatalog`.

A catalog file looks like this (JSON has the same keys)::

    [[services]]
    name = "Weather"

    [[services.methods]]
    name = "getForecast"
    price_per_day = "0.50"

    [[services.methods]]
    name = "recalibrateSensors"
    price_per_day = "0"
    private = true          # listed nowhere and never sold

Prices are money with at most two decimals; they are kept as integer minor units (cents).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "Catalog",
    "CatalogError",
    "CatalogMethod",
    "CatalogService",
    "demo_catalog",
    "load_catalog_file",
    "parse_catalog",
    "parse_registry",
    "price_to_minor",
]


class CatalogError(ValueError):
    """A catalog file or registry answer that cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class CatalogMethod:
    """A method of a service with its price per day in minor units (cents)."""

    name: str
    price_per_day_minor: int
    private: bool = False


@dataclass(frozen=True, slots=True)
class CatalogService:
    """A service and its methods, private ones included (they are never sold)."""

    name: str
    methods: tuple[CatalogMethod, ...]

    @property
    def methods_for_sale(self) -> tuple[CatalogMethod, ...]:
        """The methods that are not private, in catalog order."""
        return tuple(method for method in self.methods if not method.private)

    def method_for_sale(self, name: str) -> CatalogMethod | None:
        """The public method called ``name``, or ``None`` (private methods are not for sale)."""
        for method in self.methods:
            if method.name == name and not method.private:
                return method
        return None


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every service for sale.

    Attributes:
        services: the services in source order.
        source: where the catalog comes from, for the startup line and logs
            (``"demo"``, ``"file /etc/paycheck.toml"``, ``"registry http://..."``).
    """

    services: tuple[CatalogService, ...]
    source: str

    def service(self, name: str) -> CatalogService | None:
        """The service called exactly ``name``, or ``None``."""
        for service in self.services:
            if service.name == name:
                return service
        return None

    def describe(self) -> str:
        """A short human description: ``"demo (2 services, 5 methods for sale)"``."""
        methods = sum(len(service.methods_for_sale) for service in self.services)
        return f"{self.source} ({len(self.services)} services, {methods} methods for sale)"


def price_to_minor(value: object, *, where: str) -> int:
    """Parse a price (number or numeric string, at most two decimals, not negative) as cents.

    Raises:
        CatalogError: the value is not such a price; the message names ``where``.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CatalogError(f"{where}: the price must be a number, not {value!r}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise CatalogError(f"{where}: the price must be a number, not {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise CatalogError(f"{where}: the price must be a finite number >= 0, not {value!r}")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise CatalogError(f"{where}: the price has more than two decimals: {value!r}")
    return int(cents)


def _name(value: object, *, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"{where}: the name must be a non-empty string, not {value!r}")
    return value


def _services(services: list[CatalogService], *, source: str) -> Catalog:
    seen: set[str] = set()
    for service in services:
        if service.name in seen:
            raise CatalogError(f"{source}: the service {service.name!r} is listed twice")
        seen.add(service.name)
        names = [method.name for method in service.methods]
        for name in names:
            if names.count(name) > 1:
                raise CatalogError(
                    f"{source}: the method {name!r} of {service.name!r} is listed twice"
                )
    return Catalog(tuple(services), source)


def parse_catalog(data: object, *, source: str) -> Catalog:
    """Build a catalog from the parsed content of a catalog file.

    A top-level list is read as the seed registry's format (see :func:`parse_registry`), so a
    saved ``/allServices`` answer works as a catalog file too.

    Raises:
        CatalogError: the content is not a catalog; the message says where.
    """
    if isinstance(data, list):
        return parse_registry(data, source=source)
    if not isinstance(data, Mapping) or not isinstance(data.get("services"), list):
        raise CatalogError(f"{source}: expected a 'services' list at the top level")
    services = []
    for index, raw in enumerate(data["services"]):
        where = f"{source}: services[{index}]"
        if not isinstance(raw, Mapping):
            raise CatalogError(f"{where}: expected a table/object")
        name = _name(raw.get("name"), where=where)
        raw_methods = raw.get("methods")
        if not isinstance(raw_methods, list) or not raw_methods:
            raise CatalogError(f"{where} ({name!r}): expected a non-empty 'methods' list")
        methods = []
        for position, method in enumerate(raw_methods):
            at = f"{where}.methods[{position}]"
            if not isinstance(method, Mapping):
                raise CatalogError(f"{at}: expected a table/object")
            private = method.get("private", False)
            if not isinstance(private, bool):
                raise CatalogError(f"{at}: 'private' must be true or false")
            methods.append(
                CatalogMethod(
                    name=_name(method.get("name"), where=at),
                    price_per_day_minor=price_to_minor(method.get("price_per_day"), where=at),
                    private=private,
                )
            )
        services.append(CatalogService(name, tuple(methods)))
    return _services(services, source=source)


def parse_registry(data: object, *, source: str) -> Catalog:
    """Build a catalog from the seed registry's ``GET /allServices`` answer.

    The format is ``[{"serviceName", "methods": [{"methodName", "price", "isPrivate"}]}]``;
    other keys (``id``, ``arguments``, ...) are ignored. ``price`` is per method per day.

    Raises:
        CatalogError: the answer is not in that format; the message says where.
    """
    if not isinstance(data, list):
        raise CatalogError(f"{source}: expected a JSON list of services")
    services = []
    for index, raw in enumerate(data):
        where = f"{source}: [{index}]"
        if not isinstance(raw, Mapping):
            raise CatalogError(f"{where}: expected an object")
        name = _name(raw.get("serviceName"), where=where)
        raw_methods = raw.get("methods") or []
        if not isinstance(raw_methods, list):
            raise CatalogError(f"{where} ({name!r}): 'methods' must be a list")
        methods = []
        for position, method in enumerate(raw_methods):
            at = f"{where}.methods[{position}]"
            if not isinstance(method, Mapping):
                raise CatalogError(f"{at}: expected an object")
            methods.append(
                CatalogMethod(
                    name=_name(method.get("methodName"), where=at),
                    price_per_day_minor=price_to_minor(method.get("price"), where=at),
                    private=bool(method.get("isPrivate", False)),
                )
            )
        services.append(CatalogService(name, tuple(methods)))
    return _services(services, source=source)


def load_catalog_file(path: Path) -> Catalog:
    """Read a catalog from a ``.toml`` file, or from JSON for any other suffix.

    Raises:
        CatalogError: the file cannot be read or is not a catalog.
    """
    source = f"file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"{source}: cannot be read ({exc.strerror or exc})") from exc
    data: Any
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise CatalogError(f"{source}: not valid {path.suffix or 'JSON'}: {exc}") from exc
    return parse_catalog(data, source=source)


def demo_catalog() -> Catalog:
    """The demo catalog shipped in the package ("Online marketplace", "Weather", ...)."""
    text = resources.files("paycheck_server").joinpath("demo_catalog.toml").read_text("utf-8")
    return parse_catalog(tomllib.loads(text), source="demo")
