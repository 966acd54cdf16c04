"""Every Python or shell code block of the documentation is run by a test.

A fenced block in ``python``, ``py``, ``pycon``, ``sh``, ``bash``, ``shell``, ``console`` or
``zsh`` must be one of:

* an include of tested files only (``--8<-- "docs/snippets/..."``, ``"examples/....py"``, or
  the README's first block, which CI runs), whose every line is such an include;
* a block of ``examples/README.md`` marked ``<!-- walkthrough: STEP -->``, which
  ``tests/e2e/test_examples.py`` runs;
* a block right after ``<!-- tested-by: tests/PATH.py::test_name -->``, naming a test that
  exists and reads that page.

Markdown files included whole into a page (``--8<-- "examples/README.md"`` on a line of its
own) are checked with the same rules. Every block must name its language, so that a shell block
cannot hide as an unlabelled one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CHECKED = {"python", "py", "pycon", "sh", "bash", "shell", "console", "zsh"}
TESTED_FILES = (
    re.compile(r"docs/snippets/[\w.-]+"),  # tests/e2e/test_examples_snippets.py runs each
    re.compile(r"examples/\w+\.py"),  # tests/e2e/test_examples.py runs each
)
# The README's first block, lines 4-5: CI's .ci/run runs them (the second one exactly).
TESTED_RANGES = {"README.md": range(3, 7)}
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
_INCLUDE = re.compile(r'^\s*--8<--\s+"(?P<path>[^"]+)"\s*$')
_TESTED_BY = re.compile(r"<!--\s*tested-by:\s*(?P<file>tests/[\w/.-]+\.py)::(?P<test>\w+)\s*-->")
_WALKTHROUGH = re.compile(r"<!--\s*walkthrough:\s*\w+\s*-->")


@dataclass(frozen=True)
class Block:
    """A fenced code block of a Markdown file."""

    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    body: list[str]
    marker: str  # the last non-blank line before the fence

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line} ({self.language or 'no language'})"


def fenced_blocks(path: Path) -> list[Block]:
    """The fenced blocks of ``path``, indented ones (in admonitions, tabs) included."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, index = [], 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, indent = opening["fence"], opening["indent"]
        language = opening["info"].strip().strip("{}").lstrip(".").split(" ")[0].lower()
        end = index + 1
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        previous = next((line for line in reversed(lines[:index]) if line.strip()), "")
        body = [line.removeprefix(indent) for line in lines[index + 1 : end]]
        blocks.append(Block(path, index + 1, language, body, previous.strip()))
        index = end + 1
    return blocks


def included_pages(path: Path) -> list[Path]:
    """Markdown files included whole, outside code blocks, by ``path``."""
    inside, pages = False, []
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            inside = not inside
        elif not inside and (found := _INCLUDE.match(line)) and found["path"].endswith(".md"):
            pages.append(ROOT / found["path"])
    return pages


def _is_tested_include(line: str) -> bool:
    found = _INCLUDE.match(line)
    if found is None:
        return False
    name, *span = found["path"].split(":")
    if not (ROOT / name).is_file():
        return False
    if any(pattern.fullmatch(name) for pattern in TESTED_FILES):
        return True
    allowed = TESTED_RANGES.get(name)
    if allowed is None or len(span) != 2:
        return False
    first, last = int(span[0]), int(span[1])
    return first in allowed and last in allowed


def untested_reason(block: Block) -> str | None:
    """Why ``block`` is not known to be run by a test, or ``None`` when it is."""
    if not block.language:
        return "the block names no language"
    if block.language not in CHECKED:
        return None
    lines = [line for line in block.body if line.strip()]
    if lines and all(_is_tested_include(line) for line in lines):
        return None
    if block.path == ROOT / "examples" / "README.md" and _WALKTHROUGH.fullmatch(block.marker):
        return None
    marker = _TESTED_BY.fullmatch(block.marker)
    if marker is not None:
        test_file = ROOT / marker["file"]
        if not test_file.is_file():
            return f"{marker['file']} does not exist"
        source = test_file.read_text(encoding="utf-8")
        if f"def {marker['test']}(" not in source:
            return f"{marker['file']} has no test {marker['test']}"
        if block.path.name not in source:
            return f"{marker['file']} never reads {block.path.name}"
        return None
    return "neither an include of tested files nor marked <!-- tested-by: ... -->"


def documentation_pages() -> list[Path]:
    pages = sorted(DOCS.rglob("*.md"))
    for page in list(pages):
        pages.extend(p for p in included_pages(page) if p not in pages)
    return pages


def test_the_documentation_has_pages_to_scan() -> None:
    assert len(documentation_pages()) >= 10


@pytest.mark.parametrize(
    "page", documentation_pages(), ids=lambda path: str(path.relative_to(ROOT))
)
def test_every_python_or_shell_block_is_run_by_a_test(page: Path) -> None:
    problems = [
        f"{block}: {why}" for block in fenced_blocks(page) if (why := untested_reason(block))
    ]
    assert problems == []


# --- the scanner itself ---------------------------------------------------------------------


def _page(tmp_path: Path, text: str) -> Block:
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    (block,) = fenced_blocks(page)
    return block


def test_a_shell_block_written_inline_is_refused(tmp_path: Path) -> None:
    block = _page(tmp_path, "Run:\n\n```sh\npaycheck services\n```\n")
    assert untested_reason(block) is not None


def test_a_python_block_in_an_admonition_is_found_and_refused(tmp_path: Path) -> None:
    block = _page(tmp_path, '!!! note\n\n    ```python\n    print("hi")\n    ```\n')
    assert (block.language, block.body) == ("python", ['print("hi")'])
    assert untested_reason(block) is not None


def test_a_block_without_a_language_is_refused(tmp_path: Path) -> None:
    assert untested_reason(_page(tmp_path, "```\nrm -rf /\n```\n")) == "the block names no language"


def test_an_include_of_a_snippet_file_is_accepted(tmp_path: Path) -> None:
    block = _page(tmp_path, '```python\n--8<-- "docs/snippets/client_sdk.py"\n```\n')
    assert untested_reason(block) is None


def test_an_include_of_a_file_no_test_runs_is_refused(tmp_path: Path) -> None:
    block = _page(tmp_path, '```sh\n--8<-- "tox.ini"\n```\n')
    assert untested_reason(block) is not None


def test_an_include_mixed_with_inline_commands_is_refused(tmp_path: Path) -> None:
    text = '```sh\n--8<-- "docs/snippets/cli.sh"\npaycheck services\n```\n'
    assert untested_reason(_page(tmp_path, text)) is not None


def test_a_marker_naming_a_missing_test_is_refused(tmp_path: Path) -> None:
    text = "<!-- tested-by: tests/docs/test_code_blocks.py::test_nothing -->\n```sh\nls\n```\n"
    assert untested_reason(_page(tmp_path, text)) == (
        "tests/docs/test_code_blocks.py has no test test_nothing"
    )


def test_other_languages_need_no_test(tmp_path: Path) -> None:
    assert untested_reason(_page(tmp_path, "```toml\n[tool]\n```\n")) is None
