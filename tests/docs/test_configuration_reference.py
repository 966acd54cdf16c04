"""The configuration reference (docs/configuration.md) lists every ``PAYCHECK_*`` setting.

The table between the ``settings-table`` markers is rendered from
:class:`paycheck_server.Settings` itself: the field names, types and defaults from the model,
the descriptions from the attribute docstrings in ``settings.py``. A setting added, removed or
changed in the server without the page following fails here, with the table to paste. To
rewrite the page: ``.venv/bin/python tests/docs/test_configuration_reference.py``.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import re
import sys
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from paycheck_server import Settings
from paycheck_server import settings as settings_module

PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
START = "<!-- settings-table:start -->"
END = "<!-- settings-table:end -->"


def attribute_docstrings(cls: type) -> dict[str, str]:
    """The string literal that follows each annotated attribute of ``cls``'s class body."""
    tree = ast.parse(inspect.getsource(settings_module))
    body = next(
        node.body
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__
    )
    docs = {}
    for node, following in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def _type(field: FieldInfo) -> str:
    """The field's type in words, with its bounds (``int``, 1 to 65535)."""
    annotation = field.annotation
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(f"`{choice}`" for choice in get_args(annotation))
    names = [
        "None" if arg is type(None) else getattr(arg, "__name__", str(arg))
        for arg in (get_args(annotation) or (annotation,))
    ]
    text = " or ".join(f"`{name}`" for name in names)
    bounds = []
    for rule in field.metadata:
        for attribute, word in (("ge", ">="), ("gt", ">"), ("le", "<="), ("pattern", "matching")):
            value = getattr(rule, attribute, None)
            if value is not None:
                bounds.append(f"{word} `{value}`")
    return f"{text}, {' and '.join(bounds)}" if bounds else text


def _default(value: Any) -> str:
    if value is None:
        return "unset"
    if value is PydanticUndefined:
        return "required"
    return f"`{value}`"


def settings_table() -> str:
    """The Markdown table of every setting: variable, flag, type, default, meaning."""
    flags = set(re.findall(r"--([a-z][a-z-]*)", inspect.getsource(_cli_module())))
    docs = attribute_docstrings(Settings)
    rows = [
        "| variable | flag | type | default | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        flag = name.replace("_", "-")
        rows.append(
            f"| `PAYCHECK_{name.upper()}` | {f'`--{flag}`' if flag in flags else ''} "
            f"| {_type(field)} | {_default(field.default)} "
            f"| {docs.get(name, '')} |"
        )
    return "\n".join(rows)


def _cli_module() -> Any:
    from paycheck_server import cli

    return cli


def _documented_table() -> str:
    text = PAGE.read_text(encoding="utf-8")
    assert START in text, f"{PAGE} lost its {START} marker"
    assert END in text, f"{PAGE} lost its {END} marker"
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def test_the_reference_lists_every_setting_as_the_server_defines_it() -> None:
    expected = settings_table()
    assert _documented_table() == expected, (
        "docs/configuration.md is stale; run: .venv/bin/python "
        f"tests/docs/test_configuration_reference.py, or paste:\n{expected}"
    )


def test_every_setting_has_a_description_to_show() -> None:
    docs = attribute_docstrings(Settings)
    assert [name for name in Settings.model_fields if not docs.get(name)] == []


def test_the_reference_names_every_paycheck_variable_the_server_reads() -> None:
    source = Path(settings_module.__file__).parent
    read = set()
    for path in source.rglob("*.py"):
        read |= set(re.findall(r"PAYCHECK_[A-Z_]+[A-Z]", path.read_text(encoding="utf-8")))
    documented = set(re.findall(r"PAYCHECK_[A-Z_]+[A-Z]", _documented_table()))
    assert read - documented == set()


if __name__ == "__main__":
    page = PAGE.read_text(encoding="utf-8")
    head, rest = page.split(START, 1)
    tail = rest.split(END, 1)[1]
    PAGE.write_text(f"{head}{START}\n{settings_table()}\n{END}{tail}", encoding="utf-8")
    sys.stdout.write(f"wrote {PAGE}\n")
