"""Each benchmark script runs on tiny sizes and prints its table.

No figure is asserted: timings depend on the machine and on its neighbours. What is asserted
is what a benchmark proves by counting, not timing (single-flight's exact upstream calls), and
that ``python -m bench`` writes its markdown.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_bench(*args: str) -> str:
    """Run ``python -m <args>`` from the repository's root and return its output."""
    # Its own process group, killed whole on a timeout: subprocess.run would kill the
    # benchmark alone and leave the servers it started running, ports and CPU taken.
    with subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    assert process.returncode == 0, stderr
    return stdout


@pytest.mark.parametrize(
    ("script", "title"),
    [
        ("bench.asgi_overhead", "1. ASGI overhead on a cache hit"),
        ("bench.wsgi_overhead", "2. WSGI and Flask overhead on a cache hit"),
        ("bench.fastapi_dependency", "3. FastAPI dependency on a cache hit"),
        ("bench.single_flight", "4. Single-flight on a cold cache"),
        ("bench.cache_memory", "7. Memory per cached answer at 1,000 entries"),
    ],
)
def test_script_prints_its_table_on_tiny_sizes(script: str, title: str) -> None:
    assert title in run_bench(script, "--quick")


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "title"),
    [
        ("bench.server_throughput", "5. Server /token/check under load"),
        ("bench.server_scale", "6. /token/check with 100 vs 1,000 issued tokens"),
        ("bench.freshness", "8. Freshness: deactivation to refusal at 4 services"),
    ],
)
def test_server_script_prints_its_table_on_sqlite(script: str, title: str) -> None:
    output = run_bench(script, "--quick", "--no-postgres")

    assert title in output
    assert "SQLite" in output
    assert "PostgreSQL" not in output


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("script", ["bench.server_throughput", "bench.server_scale"])
def test_server_script_measures_postgresql_too(script: str) -> None:
    url = os.environ.get("PAYCHECK_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PAYCHECK_TEST_POSTGRES_URL is not set")

    output = run_bench(script, "--quick", "--postgres-url", url)

    assert "PostgreSQL" in output


def test_single_flight_makes_one_upstream_call_per_distinct_token() -> None:
    output = run_bench("bench.single_flight", "--quick")

    assert "target: exactly 1 upstream call per distinct token: met" in output


def test_bench_writes_the_tables_as_markdown(tmp_path: Path) -> None:
    markdown = tmp_path / "benchmarks.md"

    run_bench("bench", "--quick", "--only", "single_flight", "--markdown", str(markdown))

    text = markdown.read_text()
    assert text.startswith("- CPU: ")
    assert "### 4. Single-flight on a cold cache" in text
    assert "| callers | tokens |" in text


def test_the_pages_reproduce_commands_run() -> None:
    """docs/benchmarks.md's "How to reproduce" commands, each on tiny sizes (``--quick``)."""
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    block = re.search(r"test_the_pages_reproduce_commands_run -->\n```sh\n(.*?)```", page, re.S)
    assert block, "the page's reproduce block moved; keep its tested-by marker"
    commands = [line.split("#")[0].split() for line in block.group(1).splitlines()]
    runs: dict[str, list[str]] = {}
    for words in commands:
        if words[:2] == ["python", "-m"] and len(words) - 2 > len(runs.get(words[2], [])):
            runs[words[2]] = words[2:]  # per module, the line with the most options
    assert set(runs) >= {"bench", "bench.asgi_overhead"}, commands
    for words in runs.values():
        args = [word.replace("out.md", os.devnull) for word in words]
        output = run_bench(*args, "--quick")
        assert "target" in output, shlex.join(words)
