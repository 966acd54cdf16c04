"""Run every benchmark: ``python -m bench [--quick] [--markdown PATH] [--only NAME ...]``.

The tables are printed as each benchmark finishes; with ``--markdown`` they are also written,
under a header naming the machine, as one markdown file (the body of ``docs/benchmarks.md``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ._harness import Table, machine
from .server_throughput import add_server_options

BENCHMARKS = (
    "asgi_overhead",
    "wsgi_overhead",
    "fastapi_dependency",
    "single_flight",
    "server_throughput",
    "server_scale",
    "cache_memory",
    "freshness",
)
"""The benchmark modules, in the order of the issue (the slow memory one last)."""

SERVER_BENCHMARKS = ("server_throughput", "server_scale", "freshness")
"""The benchmarks that run servers and take the PostgreSQL and load generator options."""


def main(argv: Sequence[str] | None = None) -> None:
    """Run the chosen benchmarks and print (and optionally write) their tables."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the scripts")
    parser.add_argument("--markdown", metavar="PATH", help="also write every table as markdown")
    parser.add_argument(
        "--only", nargs="+", choices=BENCHMARKS, metavar="NAME", help="run only these benchmarks"
    )
    add_server_options(parser)
    args = parser.parse_args(argv)
    postgres_url = None if args.no_postgres else args.postgres_url
    header = machine()
    sys.stdout.write("\n".join(header) + "\n\n")
    tables: list[Table] = []
    started = time.perf_counter()
    for name in args.only or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        began = time.perf_counter()
        if name in SERVER_BENCHMARKS:
            results: list[Table] = module.run(
                quick=args.quick, postgres_url=postgres_url, loadgen=args.loadgen
            )
        else:
            results = module.run(quick=args.quick)
        for table in results:
            table.notes.append(f"({name}: {time.perf_counter() - began:.0f} s)")
            sys.stdout.write(table.text() + "\n\n")
            sys.stdout.flush()
        tables += results
    total = time.perf_counter() - started
    sys.stdout.write(f"all benchmarks: {total:.0f} s\n")
    if args.markdown:
        lines = [f"- {line}" for line in header]
        lines.append(f"- total time of `python -m bench`: {total:.0f} s")
        body = "\n\n".join(table.markdown() for table in tables)
        Path(args.markdown).write_text("\n".join(lines) + "\n\n" + body + "\n")


if __name__ == "__main__":
    main()
