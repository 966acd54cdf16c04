"""A Griffe extension: render the reST habits of our docstrings as Markdown.

The docstrings follow Google style (``Args:``, ``Raises:``) and read well in ``help()``, with a
few reST idioms that mkdocstrings would show literally:

* roles (``:class:`~paycheck_core.Bill```, ``:func:`create_app```) become inline code;
* a paragraph ending in ``::`` introduces the indented block after it, which becomes a fenced
  Python block (``Example::`` keeps its heading as ``Example:``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:[a-z]+:)?[a-z]+:`~?(?P<target>[^`]+)`")
_LITERAL_INTRO = re.compile(r"^(?P<indent>\s*)(?P<text>.*?)\s*::\s*$")


_SECTION_TITLES = {"Example", "Examples"}


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _role(match: re.Match[str]) -> str:
    target = match["target"]
    if match.group(0).split("`", 1)[1].startswith("~"):
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def markdown(text: str) -> str:
    """``text`` with its reST roles and literal blocks in Markdown."""
    lines = _ROLE.sub(_role, text).splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        intro = _LITERAL_INTRO.match(lines[index])
        if intro is None:
            out.append(lines[index])
            index += 1
            continue
        indent, words = intro["indent"], intro["text"]
        index += 1
        block_start = index
        while index < len(lines) and (
            not lines[index].strip() or _indent(lines[index]) > len(indent)
        ):
            index += 1
        body = lines[block_start:index]
        while body and not body[0].strip():
            body.pop(0)
        while body and not body[-1].strip():
            body.pop()
        if words in _SECTION_TITLES:
            # "Example:" would open a Google section, which parses its own way: a plain heading.
            out.append(f"{indent}**{words}:**")
        elif words:
            out.append(f"{indent}{words}:")
        if not body:
            continue
        cut = min(_indent(line) for line in body if line.strip())
        language = "pycon" if body[0].lstrip().startswith(">>>") else "python"
        out.extend(["", f"{indent}```{language}"])
        out.extend(f"{indent}{line[cut:]}" if line.strip() else "" for line in body)
        out.extend([f"{indent}```", ""])
    return "\n".join(out)


class RstDocstrings(griffe.Extension):
    """Rewrite each docstring once, before mkdocstrings parses it."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
