"""Benchmark 7: the memory one cached answer takes in a validator, at 100,000 entries.

A :class:`~paycheck_core.TokenValidator` (mocked payment server, every token granted) is filled
through its public ``validate`` with 100,000 distinct tokens for one method, the way a busy
service fills it. :mod:`tracemalloc` counts the bytes still allocated once the garbage is
collected, before and after: the difference covers the cache's dict (its table and the
``OrderedDict`` links), the keys (a SHA-256 digest and the method's name in a tuple) and the
values (the expiry time and the decision, with its ``paid_until`` date). The tokens themselves
are made before counting: the cache never holds them (it keys on their digest).

The baseline in the same run is the same number of 53-character token strings: what a naive
cache keyed by the plaintext token would spend on its keys alone.

Target: at most 1 KiB per entry.

Run: ``python -m bench.cache_memory [--quick] [--markdown PATH]``.
"""

from __future__ import annotations

import gc
import statistics
import tracemalloc
from collections.abc import Callable, Sequence

from paycheck_core.tokens import generate_token

from ._harness import Table, emit, parse_args, spread
from ._payments import MockPayments

__all__ = ["bytes_per_entry", "main", "run"]

TARGET_BYTES = 1024
METHOD = "getInfo"


def _traced(build: Callable[[], object]) -> int:
    """Bytes still allocated by ``build()`` while its result is alive."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return after - before


def bytes_per_entry(entries: int) -> tuple[float, float]:
    """Bytes per cached answer, and per plaintext token string, at ``entries`` entries."""
    payments = MockPayments()
    tokens = [generate_token() for _ in range(entries)]
    validator = payments.validator(maxsize=entries + 1)
    validator.validate(generate_token(), METHOD)  # the client's connection and buffers exist
    baseline = payments.calls

    def fill() -> object:
        for token in tokens:
            validator.validate(token, METHOD)
        return validator

    cache_bytes = _traced(fill)
    if validator.stats.size != entries + 1 or payments.calls - baseline != entries:
        raise RuntimeError("the cache does not hold one entry per token: the bench is broken")
    validator.close()
    strings = _traced(lambda: [generate_token() for _ in range(entries)])
    return cache_bytes / entries, strings / entries


def run(*, quick: bool = False) -> list[Table]:
    """Measure and return the table."""
    # One fill of 100,000 takes about two minutes under tracemalloc (each validation goes
    # through httpx), and the figure is deterministic to a few bytes: one repeat is enough.
    entries, repeats = (1_000, 2) if quick else (100_000, 1)
    results = [bytes_per_entry(entries) for _ in range(repeats)]
    cache = spread([result[0] for result in results])
    strings = spread([result[1] for result in results])
    table = Table(
        f"7. Memory per cached answer at {entries:,} entries (tracemalloc)",
        ["what", "bytes per entry", "vs a plaintext token string"],
    )
    table.add("plaintext token strings (baseline)", strings.format(digits=0), "1.00")
    ratio = statistics.median(result[0] / result[1] for result in results)
    table.add("TokenValidator cache entry", cache.format(digits=0), f"{ratio:.2f}")
    met = cache.median <= TARGET_BYTES
    table.notes += [
        f"median [min, max] of {repeats} fill(s) of a fresh validator through validate()",
        f"target: ≤ {TARGET_BYTES:,} bytes per entry: {'met' if met else 'MISSED'} "
        f"({cache.median:.0f} bytes)",
    ]
    return [table]


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark from the command line."""
    args = parse_args(__doc__.splitlines()[0], argv)
    emit(run(quick=args.quick), args.markdown)


if __name__ == "__main__":
    main()
