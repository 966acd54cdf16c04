"""A MkDocs hook: put the benchmark and reliability reports in the nav once they exist.

``docs/benchmarks.md`` and ``docs/reliability.md`` are written by the benchmark and the
reliability suites, which may land after the site. A nav entry for a missing page fails the
strict build, and a page missing from the nav fails it too; so the nav names them exactly when
they are there, under "Operating".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PAGES = {"Benchmarks": "benchmarks.md", "Reliability": "reliability.md"}
SECTION = "Operating"


def on_config(config: Any, **kwargs: Any) -> Any:
    """Append the pages that exist to the nav's section ``SECTION``."""
    docs = Path(config["docs_dir"])
    present = [{title: page} for title, page in PAGES.items() if (docs / page).is_file()]
    for entry in config["nav"]:
        if isinstance(entry, dict) and SECTION in entry:
            known = {next(iter(item.values())) for item in entry[SECTION] if isinstance(item, dict)}
            entry[SECTION].extend(
                item for item in present if next(iter(item.values())) not in known
            )
    return config
