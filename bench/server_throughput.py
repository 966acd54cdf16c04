"""Benchmark 5: ``POST /token/check`` throughput and latency of a real ``paycheck-server``.

``paycheck-server serve`` runs with one worker on a free loopback port, on SQLite and, when a
PostgreSQL server is given, on PostgreSQL; a bare FastAPI endpoint answering constant JSON
(:mod:`bench._bare_app`) runs the same way in the same run, as the baseline. A load generator
in its own process (wrk if installed, else :mod:`bench._loadgen`) keeps 8 connections busy
checking one paid token, bought through the API. Every run must get only 200s.

Target: on SQLite, at least 50% of the bare endpoint's throughput.

Run: ``python -m bench.server_throughput [--quick] [--postgres-url URL | --no-postgres]
[--loadgen auto|wrk|httpx] [--markdown PATH]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from paycheck_core.tokens import generate_token

from ._harness import Table, emit, parse_args, spread
from ._servers import (
    CONNECTIONS,
    Load,
    PostgresDatabases,
    bare_fastapi,
    check_body,
    compare,
    issue_token,
    paycheck_server,
    pick_generator,
)

__all__ = ["DEFAULT_POSTGRES_URL", "add_server_options", "main", "run"]

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
TARGET_RATIO = 0.5
BARE = "bare FastAPI endpoint (constant JSON)"
SQLITE = "paycheck-server, SQLite"
POSTGRES = "paycheck-server, PostgreSQL"


def run(
    *, quick: bool = False, postgres_url: str | None = DEFAULT_POSTGRES_URL, loadgen: str = "auto"
) -> list[Table]:
    """Serve, load and return the table.

    Args:
        postgres_url: a PostgreSQL server's URL to create the bench's database on, or
            ``None`` for SQLite only.
        loadgen: ``"auto"`` (wrk if installed), ``"wrk"`` or ``"httpx"``.
    """
    duration, repeats = (1.0, 1) if quick else (5.0, 3)
    generator = pick_generator(loadgen)
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="paycheck-bench-")))
        servers = {
            BARE: stack.enter_context(bare_fastapi()),
            SQLITE: stack.enter_context(paycheck_server(f"sqlite+aiosqlite:///{scratch}/bench.db")),
        }
        if postgres_url:
            databases = stack.enter_context(
                PostgresDatabases(postgres_url, [f"paycheck_bench_{os.getpid()}"])
            )
            servers[POSTGRES] = stack.enter_context(paycheck_server(databases.urls()[0]))
        targets = {
            name: (
                f"{server.url}/token/check",
                check_body(generate_token() if name == BARE else issue_token(server.url)),
            )
            for name, server in servers.items()
        }
        results = compare(targets, generator=generator, duration=duration, repeats=repeats)
    return [_table(results, generator, duration, repeats)]


def _table(results: dict[str, list[Load]], generator: str, duration: float, repeats: int) -> Table:
    table = Table(
        "5. Server /token/check under load (1 worker, loopback)",
        ["server", "requests/s", "p50 ms", "p99 ms", "throughput vs bare"],
    )
    bare = results[BARE]
    for name, loads in results.items():
        ratios = [
            run.requests_per_s / base.requests_per_s for run, base in zip(loads, bare, strict=True)
        ]
        table.add(
            name,
            spread([run.requests_per_s for run in loads]).format(digits=0),
            spread([run.p50_ms for run in loads]).format(),
            spread([run.p99_ms for run in loads]).format(),
            "1.00" if name == BARE else spread(ratios).format(),
        )
    sqlite = statistics.median(
        run.requests_per_s / base.requests_per_s
        for run, base in zip(results[SQLITE], bare, strict=True)
    )
    met = sqlite >= TARGET_RATIO
    table.notes += [
        f"median [min, max] of {repeats} runs of {duration:g} s each, servers interleaved; "
        f"{generator} in its own process, {CONNECTIONS} keep-alive connections",
        f"target: SQLite ≥ {TARGET_RATIO:.0%} of the bare endpoint's throughput: "
        f"{'met' if met else 'MISSED'} ({sqlite:.0%})",
    ]
    return table


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """The options of the benchmarks that run servers."""
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="PostgreSQL server to create the bench's databases on (default: %(default)s)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument(
        "--loadgen",
        choices=("auto", "wrk", "httpx"),
        default="auto",
        help="load generator: wrk if installed (apt-get install -y wrk), else httpx",
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark from the command line."""
    args = parse_args(__doc__.splitlines()[0], argv, add_server_options)
    postgres = None if args.no_postgres else args.postgres_url
    emit(run(quick=args.quick, postgres_url=postgres, loadgen=args.loadgen), args.markdown)


if __name__ == "__main__":
    main()
