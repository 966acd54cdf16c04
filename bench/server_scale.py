"""Benchmark 6: ``/token/check`` latency with 1,000 vs 1,000,000 issued tokens in the database.

Two databases are seeded directly (:mod:`bench._seed`: SQLAlchemy Core ``executemany`` into
the server's own tables), one with 1,000 issued tokens and one with 1,000,000, and a
``paycheck-server`` (one worker) serves each; one more token is bought through the API on
each and checked under load, the two servers in turns. The check finds a token by the
unique index on its digest, so the table's size should barely show.

Both SQLite and, when a PostgreSQL server is given, PostgreSQL (databases created for the run
and dropped after).

Target: the large database's p50 within 1.2x of the small one's.

Run: ``python -m bench.server_scale [--quick] [--postgres-url URL | --no-postgres]
[--loadgen auto|wrk|httpx] [--markdown PATH]``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from ._harness import Table, emit, parse_args, spread
from ._seed import seed_tokens
from ._servers import (
    CONNECTIONS,
    Generator,
    Load,
    PostgresDatabases,
    check_body,
    compare,
    issue_token,
    paycheck_server,
    pick_generator,
)
from .server_throughput import DEFAULT_POSTGRES_URL, add_server_options

__all__ = ["main", "run"]

TARGET_RATIO = 1.2


def run(
    *, quick: bool = False, postgres_url: str | None = DEFAULT_POSTGRES_URL, loadgen: str = "auto"
) -> list[Table]:
    """Seed, serve, load and return the table.

    Args:
        postgres_url: a PostgreSQL server's URL to create the bench's databases on, or
            ``None`` for SQLite only.
        loadgen: ``"auto"`` (wrk if installed), ``"wrk"`` or ``"httpx"``.
    """
    duration, repeats = (1.0, 1) if quick else (5.0, 3)
    small, large = (100, 1_000) if quick else (1_000, 1_000_000)
    generator = pick_generator(loadgen)
    table = Table(
        f"6. /token/check with {small:,} vs {large:,} issued tokens (1 worker, loopback)",
        [
            "database",
            "issued tokens",
            "seeded in s",
            "requests/s",
            "p50 ms",
            "p99 ms",
            "p50 vs small",
        ],
    )
    ratios: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="paycheck-bench-") as scratch:
        backends = {
            "SQLite": [f"sqlite+aiosqlite:///{Path(scratch)}/{size}.db" for size in (small, large)]
        }
        with ExitStack() as stack:
            if postgres_url:
                names = [f"paycheck_bench_{os.getpid()}_{size}" for size in (small, large)]
                backends["PostgreSQL"] = stack.enter_context(
                    PostgresDatabases(postgres_url, names)
                ).urls()
            for backend, urls in backends.items():
                ratios[backend] = _measure(
                    table,
                    backend,
                    dict(zip((small, large), urls, strict=True)),
                    generator=generator,
                    duration=duration,
                    repeats=repeats,
                )
    met = all(ratio <= TARGET_RATIO for ratio in ratios.values())
    said = ", ".join(f"{backend} {ratio:.2f}x" for backend, ratio in ratios.items())
    table.notes += [
        f"median [min, max] of {repeats} runs of {duration:g} s each, the two servers "
        f"interleaved; {generator} in its own process, {CONNECTIONS} keep-alive connections",
        "issued tokens: seeded ones, plus the one bought through the API and checked",
        f"target: p50 with {large:,} within {TARGET_RATIO}x of {small:,}: "
        f"{'met' if met else 'MISSED'} ({said})",
    ]
    return [table]


def _measure(
    table: Table,
    backend: str,
    urls: dict[int, str],
    *,
    generator: Generator,
    duration: float,
    repeats: int,
) -> float:
    seeded: dict[int, float] = {}
    for size, url in urls.items():
        began = time.perf_counter()
        asyncio.run(seed_tokens(url, size))
        seeded[size] = time.perf_counter() - began
    with ExitStack() as stack:
        servers = {size: stack.enter_context(paycheck_server(url)) for size, url in urls.items()}
        targets = {
            str(size): (f"{server.url}/token/check", check_body(issue_token(server.url)))
            for size, server in servers.items()
        }
        loaded = compare(targets, generator=generator, duration=duration, repeats=repeats)
    results: dict[int, list[Load]] = {int(size): loads for size, loads in loaded.items()}
    small, large = urls
    for size, loads in results.items():
        paired = zip(loads, results[small], strict=True)
        table.add(
            backend,
            f"{size + 1:,}",
            f"{seeded[size]:.1f}",
            spread([run.requests_per_s for run in loads]).format(digits=0),
            spread([run.p50_ms for run in loads]).format(),
            spread([run.p99_ms for run in loads]).format(),
            "1.00"
            if size == small
            else spread([run.p50_ms / base.p50_ms for run, base in paired]).format(),
        )
    return statistics.median(
        run.p50_ms / base.p50_ms for run, base in zip(results[large], results[small], strict=True)
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark from the command line."""
    args = parse_args(__doc__.splitlines()[0], argv, add_server_options)
    postgres = None if args.no_postgres else args.postgres_url
    emit(run(quick=args.quick, postgres_url=postgres, loadgen=args.loadgen), args.markdown)


if __name__ == "__main__":
    main()
