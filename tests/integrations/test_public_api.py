"""Each integration module declares an __all__ of documented names (ruff's RUF022 sorts it)."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = ["_common", "asgi", "fastapi", "flask", "wsgi"]


@pytest.mark.parametrize("name", MODULES)
def test_every_public_class_and_function_is_declared_and_documented(name: str) -> None:
    module = importlib.import_module(f"paycheck_integrations.{name}")
    defined = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    }
    assert sorted(defined - set(module.__all__)) == []
    for attr in module.__all__:
        value = getattr(module, attr)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name}.{attr} has no docstring"
