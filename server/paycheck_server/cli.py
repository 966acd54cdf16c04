"""``paycheck-server``: run the payment server, migrate its database, export its contracts.

::

    paycheck-server                       serve on 127.0.0.1:8000, ./paycheck.db, demo catalog
    paycheck-server serve --port 9000 --database-url postgresql+asyncpg://paycheck@db/paycheck
    paycheck-server migrate               apply the database migrations and exit
    paycheck-server openapi               write docs/openapi/client.yml and service.yml
    paycheck-server revoke --token pct_…  the token gets 401 from now on (and followers learn it)
    paycheck-server events purge          delete token events older than the feed's retention

Every flag has a ``PAYCHECK_*`` variable (``--database-url`` ↔ ``PAYCHECK_DATABASE_URL``). A bad
flag, an unusable catalog or an unreachable database is one line on stderr and exit code 2.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import uvicorn
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from paycheck_core import tokens

from . import openapi as contracts
from ._version import __version__
from .api.app import catalog_source, create_app
from .catalog import CatalogError, demo_catalog
from .clock import SystemClock
from .db import create_engine
from .events import purge_events
from .migrate import current_revision, head_revision, upgrade
from .registry import StaticCatalog
from .serving import uvicorn_options
from .settings import Settings
from .store import Store

__all__ = ["cli", "main"]

T = TypeVar("T")

PROG = "paycheck-server"
EXIT_USAGE = 2


class StartupError(Exception):
    """A reason the command cannot run, said in one line."""


def _settings(overrides: dict[str, Any]) -> Settings:
    try:
        return Settings(**{name: value for name, value in overrides.items() if value is not None})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        if field:
            variable = f"PAYCHECK_{field.upper()}"
            where = f"--{field.replace('_', '-')} / {variable}"
            raise StartupError(f"invalid {where}: {error['msg']}") from None
        raise StartupError(f"invalid settings: {error['msg']}") from None


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _reason(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__


async def _migrate(url: str) -> str | None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        return await current_revision(engine)
    finally:
        await engine.dispose()


def _migrate_or_fail(url: str) -> str | None:
    try:
        return asyncio.run(_migrate(url))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise StartupError(f"cannot use the database {_safe_url(url)}: {_reason(exc)}") from exc


def _check_port(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


def _export(overrides: dict[str, Any]) -> None:
    # Uvicorn's workers build the app from the environment: hand the flags over that way.
    for name, value in overrides.items():
        if value is not None:
            os.environ[f"PAYCHECK_{name.upper()}"] = str(value)


_DATABASE_URL = click.option(
    "--database-url",
    envvar="PAYCHECK_DATABASE_URL",
    show_envvar=True,
    help="sqlite+aiosqlite:///FILE (default ./paycheck.db) or postgresql+asyncpg://USER@HOST/DB.",
)


@click.group(
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name=PROG)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Paycheck's reference payment server. With no command: serve."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@cli.command()
@click.option("--host", envvar="PAYCHECK_HOST", show_envvar=True, help="Default 127.0.0.1.")
@click.option("--port", type=int, envvar="PAYCHECK_PORT", show_envvar=True, help="Default 8000.")
@click.option(
    "--workers",
    type=int,
    envvar="PAYCHECK_WORKERS",
    show_envvar=True,
    help="Server processes (default 1); use PostgreSQL for more.",
)
@_DATABASE_URL
@click.option(
    "--catalog",
    type=click.Path(path_type=Path),
    envvar="PAYCHECK_CATALOG",
    show_envvar=True,
    help="A TOML or JSON catalog file (default: the demo catalog).",
)
@click.option(
    "--registry-url",
    envvar="PAYCHECK_REGISTRY_URL",
    show_envvar=True,
    help="Read the catalog from a service registry's /allServices, refreshed periodically.",
)
def serve(**overrides: Any) -> None:
    """Apply the migrations, then serve the API until stopped."""
    settings = _settings(overrides)
    try:
        catalogs = catalog_source(settings)
    except CatalogError as exc:
        raise StartupError(str(exc)) from exc
    _check_port(settings.host, settings.port)
    # Alembic narrates every connection at INFO; the startup line says the schema already.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    revision = _migrate_or_fail(settings.database_url)
    _export(overrides)
    click.echo(
        f"{PROG} {__version__}: listening on http://{settings.host}:{settings.port} "
        f"({settings.workers} worker{'s' if settings.workers > 1 else ''}); "
        f"database {_safe_url(settings.database_url)} (schema {revision}); "
        f"catalog {catalogs.describe()}",
        err=True,
    )
    uvicorn.run(
        "paycheck_server.api.app:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        **uvicorn_options(settings),
    )


@cli.command()
@_DATABASE_URL
def migrate(database_url: str | None) -> None:
    """Apply the database migrations and exit."""
    settings = _settings({"database_url": database_url})
    revision = _migrate_or_fail(settings.database_url)
    click.echo(f"database {_safe_url(settings.database_url)} is at schema {revision}")


@cli.command()
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("docs/openapi"),
    show_default=True,
    help="Where to write client.yml and service.yml.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the files are stale.")
def openapi(output_dir: Path, check: bool) -> None:
    """Write the OpenAPI contracts (client.yml, service.yml) generated from the app."""
    app = create_app(
        Settings(database_url="sqlite+aiosqlite:///:memory:"),
        catalogs=StaticCatalog(demo_catalog()),
    )
    if check:
        stale = contracts.stale(app, output_dir)
        if stale:
            names = ", ".join(str(path) for path in stale)
            click.echo(f"{PROG}: stale contracts: {names}; run '{PROG} openapi'", err=True)
            raise SystemExit(1)
        click.echo(f"contracts in {output_dir} are up to date")
        return
    for path in contracts.write(app, output_dir):
        click.echo(f"wrote {path}")


class SchemaError(Exception):
    """The database is not at the schema this version needs."""


async def _require_head(engine: AsyncEngine) -> None:
    revision, head = await current_revision(engine), head_revision()
    if revision != head:
        raise SchemaError(
            f"the database is at schema {revision or 'none'}, this version needs {head}: "
            f"run '{PROG} migrate' first"
        )


def _on_database(url: str, action: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run ``action`` on a migrated database; a failure to use it is a one-line error."""

    async def run() -> T:
        engine = create_engine(url)
        try:
            await _require_head(engine)
            return await action(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except SchemaError as exc:
        raise StartupError(f"{_safe_url(url)}: {exc}") from None
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise StartupError(f"cannot use the database {_safe_url(url)}: {_reason(exc)}") from exc


@cli.command()
@click.option("--token", required=True, help="The access token (pct_...) to stop at once.")
@_DATABASE_URL
def revoke(token: str, database_url: str | None) -> None:
    """Make a token stop working now: every check answers 401 from now on."""
    if not tokens.is_well_formed(token, prefix=tokens.TOKEN_PREFIX):
        raise StartupError("--token is not a Paycheck access token (pct_..., 53 characters)")
    settings = _settings({"database_url": database_url})
    digest = tokens.digest(token)
    outcome = _on_database(
        settings.database_url,
        lambda engine: Store(engine, clock=SystemClock()).revoke(digest),
    )
    if outcome == "unknown":
        click.echo(f"{PROG}: no such token in {_safe_url(settings.database_url)}", err=True)
        raise SystemExit(1)
    if outcome == "already":
        click.echo("the token had already stopped working; nothing changed")
        return
    click.echo("revoked: the token gets 401 from now on")


@cli.group()
def events() -> None:
    """The token events that GET /token/events streams."""


@events.command("purge")
@_DATABASE_URL
@click.option(
    "--feed-retention-seconds",
    type=int,
    envvar="PAYCHECK_FEED_RETENTION_SECONDS",
    show_envvar=True,
    help="Delete the events older than this (default 86400); the newest is always kept.",
)
def purge_events_command(database_url: str | None, feed_retention_seconds: int | None) -> None:
    """Delete old token events now (a running server also does it every ten minutes)."""
    settings = _settings(
        {"database_url": database_url, "feed_retention_seconds": feed_retention_seconds}
    )
    retention = settings.feed_retention_seconds
    purged = _on_database(
        settings.database_url,
        lambda engine: purge_events(engine, now=SystemClock().now(), retention_seconds=retention),
    )
    click.echo(f"purged {purged} token event{'' if purged == 1 else 's'} older than {retention} s")


def _fail(message: str) -> NoReturn:
    click.echo(f"{PROG}: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line with ``argv`` (``sys.argv[1:]`` by default) and exit."""
    try:
        code = cli.main(
            args=list(argv) if argv is not None else None, prog_name=PROG, standalone_mode=False
        )
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.format_message())
        sys.exit(0)
    except click.ClickException as exc:
        _fail(exc.format_message())
    except click.exceptions.Abort:
        _fail("aborted")
    except StartupError as exc:
        _fail(str(exc))
    sys.exit(code if isinstance(code, int) else 0)
