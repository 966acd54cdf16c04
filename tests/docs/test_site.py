"""The documentation site builds with ``mkdocs build --strict`` and loads nothing from outside.

Strict mode turns every warning into an error: a broken link or anchor, a page missing from the
nav, a snippet include whose file is gone, a docstring mkdocstrings cannot render. The site
needs the ``docs`` extra, which the ``test`` extra includes; without it these tests skip, and
``.ci/run`` builds the site once more on its own.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A tag that makes the browser fetch something: a script, a stylesheet, a font, an image.
_EXTERNAL = re.compile(
    r"<(?:script|link|img|iframe)\b[^>]*(?:src|href)=\"(?:https?:)?//[^\"]+", re.I
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mkdocs", reason='the site needs the docs extra: pip install -e ".[docs]"')
    pytest.importorskip(
        "material", reason='the site needs the docs extra: pip install -e ".[docs]"'
    )
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(Path(sys.executable).parent)},
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return target


def test_the_site_builds_strictly_with_a_page_for_each_kind_of_user(site: Path) -> None:
    for page in ("service-authors", "testing", "clients", "operators", "walkthrough"):
        assert (site / "getting-started" / page / "index.html").is_file()


def test_the_api_reference_renders_the_public_classes(site: Path) -> None:
    pages = {
        name: (site / "reference" / name / "index.html").read_text()
        for name in ("core", "integrations", "server")
    }
    for name in (
        "paycheck_core.PaycheckClient",
        "paycheck_core.AsyncTokenValidator",
        "paycheck_core.tokens",
    ):
        assert f'id="{name}"' in pages["core"]
    for name in (
        "paycheck_integrations.asgi.PaycheckMiddleware",
        "paycheck_integrations.flask.Paycheck",
        "paycheck_integrations.wsgi.PaycheckWSGIMiddleware",
        "paycheck_integrations.fastapi.Paycheck",
    ):
        assert f'id="{name}"' in pages["integrations"]
    for name in (
        "paycheck_server.create_app",
        "paycheck_server.Settings",
        "paycheck_server.PaymentProvider",
        "paycheck_server.pytest_plugin.PaycheckServer",
        "paycheck_server.pytest_plugin.Purchase",
    ):
        assert f'id="{name}"' in pages["server"]


def test_the_contracts_page_shows_both_openapi_files(site: Path) -> None:
    page = (site / "contracts" / "openapi" / "index.html").read_text()
    assert "/token/check" in page
    assert "/payment/info" in page


def test_no_page_loads_anything_from_another_site(site: Path) -> None:
    fetched = {
        f"{page.relative_to(site)}: {found}"
        for page in site.rglob("*.html")
        for found in _EXTERNAL.findall(page.read_text())
    }
    assert fetched == set()


def test_the_nav_links_the_benchmark_and_reliability_reports_that_exist(site: Path) -> None:
    home = (site / "index.html").read_text()
    for page in ("benchmarks", "reliability"):
        if (ROOT / "docs" / f"{page}.md").is_file():
            assert f'href="{page}/"' in home
        else:
            assert not (site / page).exists()
