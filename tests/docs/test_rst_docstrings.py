"""The docstring extension of the site (docs/hooks/rst_docstrings.py) turns reST into Markdown."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _extension() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "rst_docstrings", ROOT / "docs" / "hooks" / "rst_docstrings.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


markdown = _extension().markdown


def test_a_role_becomes_inline_code() -> None:
    assert markdown("See :func:`create_app`.") == "See `create_app`."


def test_a_role_with_a_tilde_shows_the_last_name_only() -> None:
    assert markdown("A :class:`~paycheck_core.Bill` and :meth:`a.b.c`") == "A `Bill` and `a.b.c`"


def test_a_literal_block_becomes_a_fenced_python_block() -> None:
    text = "Run it::\n\n    app = create_app()\n    serve(app)\n\nThen more."
    assert markdown(text) == (
        "Run it:\n\n```python\napp = create_app()\nserve(app)\n```\n\nThen more."
    )


def test_an_example_heading_is_not_a_google_section() -> None:
    assert markdown("Example::\n\n    >>> 1 + 1\n    2").splitlines()[:3] == [
        "**Example:**",
        "",
        "```pycon",
    ]


def test_a_bare_double_colon_line_only_opens_the_block() -> None:
    assert markdown("::\n\n    x = 1") == "\n```python\nx = 1\n```\n"
