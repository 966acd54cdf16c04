"""What every benchmark shares: interleaved timing, medians with their spread, and tables.

Every figure a benchmark prints is a ratio against a baseline measured in the same run. The
variants of one benchmark are timed in turns (A B C, B C A, C A B, ...) so that a neighbour
stealing the CPU for a while slows all of them alike, and each figure is the median of the
repeats, printed with the spread (smallest to largest) of the same repeats.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Spread",
    "Table",
    "VariantTimes",
    "emit",
    "interleaved",
    "machine",
    "parse_args",
    "spread",
    "timed",
]


@dataclass(frozen=True, slots=True)
class Spread:
    """The median of some repeats and their smallest and largest values."""

    median: float
    low: float
    high: float

    def format(self, scale: float = 1.0, digits: int = 2) -> str:
        """``median [low, high]``, each multiplied by ``scale``."""
        return (
            f"{self.median * scale:.{digits}f} "
            f"[{self.low * scale:.{digits}f}, {self.high * scale:.{digits}f}]"
        )


def spread(values: Sequence[float]) -> Spread:
    """The :class:`Spread` of ``values`` (at least one)."""
    if not values:
        raise ValueError("spread needs at least one value")
    return Spread(statistics.median(values), min(values), max(values))


@dataclass(frozen=True, slots=True)
class VariantTimes:
    """Seconds per operation of each variant, one value per repeat, in repeat order."""

    seconds: Mapping[str, Sequence[float]]

    def of(self, name: str) -> Spread:
        """The spread of ``name``'s seconds per operation."""
        return spread(self.seconds[name])

    def added(self, name: str, baseline: str) -> Spread:
        """What ``name`` adds to ``baseline`` per operation, paired repeat by repeat."""
        pairs = zip(self.seconds[name], self.seconds[baseline], strict=True)
        return spread([value - base for value, base in pairs])

    def ratio(self, name: str, baseline: str) -> Spread:
        """``name``'s throughput over ``baseline``'s (1.0 = as fast), paired by repeat."""
        pairs = zip(self.seconds[name], self.seconds[baseline], strict=True)
        return spread([base / value for value, base in pairs])


def timed(run: Callable[[int], None], number: int) -> float:
    """Seconds per operation of ``run(number)``, with the garbage collector paused (as timeit)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        run(number)
        elapsed = time.perf_counter() - start
    finally:
        if collecting:
            gc.enable()
    return elapsed / number


def interleaved(
    variants: Mapping[str, Callable[[int], None]], *, number: int, repeats: int
) -> VariantTimes:
    """Time each variant ``repeats`` times, ``number`` operations a time, in rotating turns.

    Args:
        variants: name to a callable that performs ``n`` operations when called with ``n``.
        number: operations per timing.
        repeats: timings per variant.
    """
    if number < 1 or repeats < 1:
        raise ValueError(f"number and repeats must be 1 or more, not {number!r}, {repeats!r}")
    names = list(variants)
    for name in names:  # one untimed round: imports, caches and code paths are warm
        variants[name](max(1, number // 10))
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for turn in range(repeats):
        shift = turn % len(names)
        for name in names[shift:] + names[:shift]:
            seconds[name].append(timed(variants[name], number))
    return VariantTimes(seconds)


@dataclass
class Table:
    """A small table of results, printed as text and written as markdown.

    Attributes:
        title: what was measured, in one line.
        columns: the column headings.
        rows: the rows, as many cells as columns.
        notes: lines printed under the table (the setup, the target and whether it was met).
    """

    title: str
    columns: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        """Append a row."""
        if len(cells) != len(self.columns):
            raise ValueError(f"a row of {self.title!r} has {len(self.columns)} cells")
        self.rows.append([str(cell) for cell in cells])

    def text(self) -> str:
        """The table for a terminal."""
        widths = [
            max(len(str(cell)) for cell in column)
            for column in zip(self.columns, *self.rows, strict=True)
        ]

        def line(cells: Sequence[str]) -> str:
            cells = [cell.ljust(width) for cell, width in zip(cells, widths, strict=True)]
            return "  ".join(cells).rstrip()

        rule = "  ".join("-" * width for width in widths)
        body = [line(row) for row in self.rows]
        notes = [f"  {note}" for note in self.notes]
        return "\n".join([self.title, rule, line(self.columns), rule, *body, rule, *notes])

    def markdown(self) -> str:
        """The table for ``docs/benchmarks.md``."""
        head = "| " + " | ".join(self.columns) + " |"
        rule = "|" + "|".join(" --- " for _ in self.columns) + "|"
        body = ["| " + " | ".join(row) + " |" for row in self.rows]
        notes = ["", *(f"- {note}" for note in self.notes)] if self.notes else []
        return "\n".join([f"### {self.title}", "", head, rule, *body, *notes])


def parse_args(
    description: str,
    argv: Sequence[str] | None,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """The command line every benchmark accepts: ``--quick`` and ``--markdown PATH``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, to check that the script runs"
    )
    parser.add_argument("--markdown", metavar="PATH", help="also write the tables as markdown")
    if extra is not None:
        extra(parser)
    return parser.parse_args(argv)


def emit(tables: Sequence[Table], markdown: str | None = None) -> None:
    """Print ``tables`` and, given a path, write them there as markdown."""
    for table in tables:
        sys.stdout.write(table.text() + "\n\n")
    sys.stdout.flush()
    if markdown is not None:
        Path(markdown).write_text("\n\n".join(table.markdown() for table in tables) + "\n")


def machine() -> list[str]:
    """What the benchmarks ran on: CPU model, cores, Python, OS, date and load at the start."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.partition(":")[2].strip()
                    break
    except OSError:
        pass
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        f"CPU: {model}, {os.cpu_count()} cores",
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()}",
        f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; "
        f"load average at start: {load}",
    ]
