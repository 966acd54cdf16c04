"""Benchmark 4: concurrent misses share one upstream call (single-flight).

The mocked payment server answers each check after 20 ms. On a cold cache:

* 1,000 asyncio tasks validate one token at once: the server must see exactly 1 check;
* 64 threads validate one token at once (released together by a barrier): exactly 1 check;
* the same crowds spread over K distinct tokens: exactly K checks.

Each crowd's wall time is compared with one validation alone on a cold cache (one upstream
call), measured in the same run: a ratio near 1 means the crowd waited for one call, not for a
queue of them.

Run: ``python -m bench.single_flight [--quick] [--markdown PATH]``.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from paycheck_core.tokens import generate_token

from ._harness import Table, emit, parse_args, spread
from ._payments import MockPayments

__all__ = ["Crowd", "main", "run"]

DELAY = 0.020
METHOD = "getInfo"


@dataclass(frozen=True, slots=True)
class Crowd:
    """One measurement: how many callers over how many tokens, the checks made and the time."""

    callers: int
    tokens: int
    checks: int
    seconds: float


def async_crowd(callers: int, tokens: int) -> Crowd:
    """``callers`` tasks validate ``tokens`` cold tokens (round robin) on a fresh validator."""
    payments = MockPayments(delay=DELAY)
    names = [generate_token() for _ in range(tokens)]

    async def crowd() -> float:
        validator = payments.async_validator()
        async with validator:
            start = time.perf_counter()
            decisions = await asyncio.gather(
                *(validator.validate(names[index % tokens], METHOD) for index in range(callers))
            )
            elapsed = time.perf_counter() - start
        if not all(decision.allowed for decision in decisions):
            raise RuntimeError("a caller was denied: the bench is broken")
        return elapsed

    seconds = asyncio.run(crowd())
    return Crowd(callers, tokens, payments.calls, seconds)


def thread_crowd(callers: int, tokens: int) -> Crowd:
    """``callers`` threads validate ``tokens`` cold tokens (round robin), released together."""
    payments = MockPayments(delay=DELAY)
    names = [generate_token() for _ in range(tokens)]
    validator = payments.validator()
    barrier = threading.Barrier(callers + 1)
    denied: list[int] = []
    finished: list[float] = []
    lock = threading.Lock()

    def call(index: int) -> None:
        barrier.wait()
        decision = validator.validate(names[index % tokens], METHOD)
        done = time.perf_counter()
        with lock:
            finished.append(done)
            if not decision.allowed:
                denied.append(index)

    threads = [threading.Thread(target=call, args=(index,)) for index in range(callers)]
    for thread in threads:
        thread.start()
    barrier.wait()  # every thread is at the barrier: release them all now
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    validator.close()
    if denied:
        raise RuntimeError("a caller was denied: the bench is broken")
    return Crowd(callers, tokens, payments.calls, max(finished) - start)


def _repeat(measure: Callable[[], Crowd], repeats: int) -> list[Crowd]:
    return [measure() for _ in range(repeats)]


def run(*, quick: bool = False) -> list[Table]:
    """Measure every crowd and return the table."""
    repeats = 2 if quick else 7
    tasks, threads, distinct = (50, 8, 4) if quick else (1_000, 64, 10)
    table = Table(
        f"4. Single-flight on a cold cache (upstream answers after {DELAY * 1000:g} ms)",
        ["callers", "tokens", "upstream calls (each repeat)", "wall ms", "wall vs one call"],
    )
    one_async = _repeat(lambda: async_crowd(1, 1), repeats)
    one_thread = _repeat(lambda: thread_crowd(1, 1), repeats)
    base_async = statistics.median(crowd.seconds for crowd in one_async)
    base_thread = statistics.median(crowd.seconds for crowd in one_thread)
    rows: list[tuple[str, list[Crowd], float]] = [
        ("1 task (baseline)", one_async, base_async),
        (f"{tasks:,} asyncio tasks", _repeat(lambda: async_crowd(tasks, 1), repeats), base_async),
        (
            f"{tasks:,} asyncio tasks",
            _repeat(lambda: async_crowd(tasks, distinct), repeats),
            base_async,
        ),
        ("1 thread (baseline)", one_thread, base_thread),
        (f"{threads} threads", _repeat(lambda: thread_crowd(threads, 1), repeats), base_thread),
        (
            f"{threads} threads",
            _repeat(lambda: thread_crowd(threads, distinct), repeats),
            base_thread,
        ),
    ]
    exact = True
    for label, crowds, base in rows:
        tokens = crowds[0].tokens
        calls = sorted({crowd.checks for crowd in crowds})
        exact = exact and calls == [tokens]
        seconds = spread([crowd.seconds for crowd in crowds])
        ratios = spread([crowd.seconds / base for crowd in crowds])
        table.add(
            label,
            tokens,
            ", ".join(str(call) for call in calls),
            seconds.format(1e3, 1),
            ratios.format(digits=2),
        )
    table.notes += [
        f"median [min, max] of {repeats} repeats; each repeat starts from a fresh, cold validator",
        f"target: exactly 1 upstream call per distinct token: {'met' if exact else 'MISSED'}",
    ]
    return [table]


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark from the command line."""
    args = parse_args(__doc__.splitlines()[0], argv)
    emit(run(quick=args.quick), args.markdown)


if __name__ == "__main__":
    main()
