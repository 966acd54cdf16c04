"""Our OpenAPI contracts, generated from the app: ``client.yml`` and ``service.yml``.

They are supersets of the seed's files (same paths, fields and status codes, plus our
additions). FastAPI's 422 answers are removed from the documents because the server answers
validation errors with 400. ``paycheck-server openapi`` writes them to ``docs/openapi/``; a
test fails when the files there are stale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; types-PyYAML is not a dependency
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ._version import __version__

__all__ = ["CONTRACTS", "contracts", "install_openapi", "render", "stale", "write"]

CONTRACTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "client.yml": (
        "Paycheck payment server: client API",
        ("/services", "/bill", "/pay", "/payment/info", "/token/reset"),
    ),
    "service.yml": (
        "Paycheck payment server: service API",
        ("/token/check", "/token/events"),
    ),
}
"""File name → (title, paths) of each exported contract."""


def _without_422(document: dict[str, Any]) -> dict[str, Any]:
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    return set()


def _document(app: FastAPI, title: str, paths: tuple[str, ...] | None) -> dict[str, Any]:
    document = _without_422(
        get_openapi(
            title=title, version=__version__, description=app.description, routes=app.routes
        )
    )
    if paths is None:
        return document
    document["paths"] = {path: document["paths"][path] for path in paths}
    # Keep the schemas the kept paths use, directly or through other schemas.
    schemas = document.get("components", {}).get("schemas", {})
    needed: set[str] = set()
    pending = _refs(document["paths"])
    while pending:
        name = pending.pop()
        if name not in needed and name in schemas:
            needed.add(name)
            pending |= _refs(schemas[name])
    document["components"]["schemas"] = {
        name: schema for name, schema in schemas.items() if name in needed
    }
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve ``/openapi.json`` without FastAPI's 422 answers (the server never sends them)."""

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document(app, app.title, None)
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]  # FastAPI's documented override


def contracts(app: FastAPI) -> dict[str, dict[str, Any]]:
    """File name → OpenAPI document, for each contract of :data:`CONTRACTS`."""
    return {name: _document(app, title, paths) for name, (title, paths) in CONTRACTS.items()}


def render(document: dict[str, Any]) -> str:
    """A document as YAML, keys in FastAPI's order."""
    text: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return text


def write(app: FastAPI, directory: Path) -> list[Path]:
    """Write every contract into ``directory`` (created if needed); returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in contracts(app).items():
        path = directory / name
        path.write_text(render(document), encoding="utf-8")
        written.append(path)
    return written


def stale(app: FastAPI, directory: Path) -> list[Path]:
    """The contract files in ``directory`` that are missing or differ from the app's."""
    paths = []
    for name, document in contracts(app).items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != render(document):
            paths.append(path)
    return paths
