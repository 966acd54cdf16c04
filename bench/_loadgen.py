"""The load generator used when wrk is not installed: httpx on asyncio, in its own process.

``python -m bench._loadgen URL BODY_FILE --connections N --duration SECONDS`` sends ``POST
URL`` with the JSON body of ``BODY_FILE`` over N keep-alive connections for the duration, and
prints one JSON line: ``requests``, ``seconds``, ``errors`` (transport failures),
``status_errors`` (answers other than 2xx), ``p50_us`` and ``p99_us``.

It is a slower client than wrk (Python builds and parses every request), so against a fast
server it saturates its own core first: its figures are lower bounds. wrk is the better
generator: ``apt-get install -y wrk`` (Debian, Ubuntu) or ``brew install wrk``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

__all__ = ["generate", "main", "percentile"]


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``sorted_values`` fall (nearest rank)."""
    if not sorted_values:
        return 0.0
    rank = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]


async def generate(
    url: str, body: bytes, *, connections: int, duration: float
) -> dict[str, float | int]:
    """Send ``body`` to ``url`` from ``connections`` loops for ``duration`` seconds."""
    latencies: list[float] = []
    errors = 0
    status_errors = 0
    headers = {"Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        started = time.perf_counter()
        deadline = started + duration

        async def loop() -> None:
            nonlocal errors, status_errors
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - sent)
                if not 200 <= response.status_code < 300:
                    status_errors += 1

        await asyncio.gather(*(loop() for _ in range(connections)))
        seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": seconds,
        "errors": errors,
        "status_errors": status_errors,
        "p50_us": percentile(latencies, 0.50) * 1e6,
        "p99_us": percentile(latencies, 0.99) * 1e6,
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Run the generator from the command line and print its JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("body_file", type=Path)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args(argv)
    result = asyncio.run(
        generate(
            args.url,
            args.body_file.read_bytes(),
            connections=args.connections,
            duration=args.duration,
        )
    )
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
