"""The public surface of ``paycheck_core``: one flat, sorted, complete ``__all__``."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
import types

import pytest

import paycheck_core
from paycheck_core import tokens

PRIVATE_MODULES = sorted(
    name
    for _, name, _ in pkgutil.iter_modules(paycheck_core.__path__)
    if name.startswith("_") and name != "__main__"
)

# The names the issue promises; a rename or a removal breaks users.
PROMISED = {
    "APIError",
    "AccessDecision",
    "AsyncPaycheckClient",
    "AsyncTokenValidator",
    "BadRequestError",
    "Bill",
    "MAX_CACHE_TTL",
    "Method",
    "NotFoundError",
    "PaycheckClient",
    "PaycheckError",
    "Payment",
    "PaymentDeclinedError",
    "PaymentInfo",
    "PaymentServiceUnavailable",
    "PricedMethod",
    "Service",
    "TokenValidator",
}
# Defined without an underscore in a private module, yet deliberately not exported.
INTERNAL = {
    # The twins' shared base, as in httpx: callers type against one of the two clients.
    "BaseClient",
}
MODELS = ["AccessDecision", "Bill", "Method", "Payment", "PaymentInfo", "PricedMethod", "Service"]


def isort_key(name: str) -> tuple[int, str]:
    """Ruff's RUF022 order: CONSTANTS, then Classes, then everything else."""
    if re.fullmatch(r"[A-Z0-9_]+", name) and len(name) > 1:
        group = 0
    elif name[:1].isupper():
        group = 1
    else:
        group = 2
    return group, name


@pytest.mark.parametrize("module", [paycheck_core, tokens], ids=lambda m: m.__name__)
def test_all_is_sorted(module: types.ModuleType) -> None:
    assert module.__all__ == sorted(module.__all__, key=isort_key)


@pytest.mark.parametrize("module", [paycheck_core, tokens], ids=lambda m: m.__name__)
def test_every_name_in_all_exists(module: types.ModuleType) -> None:
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


def test_every_promised_name_is_exported() -> None:
    assert sorted(PROMISED - set(paycheck_core.__all__)) == []


@pytest.mark.parametrize("module_name", PRIVATE_MODULES)
def test_every_public_name_of_a_private_module_is_exported(module_name: str) -> None:
    module = importlib.import_module(f"paycheck_core.{module_name}")
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", None) == module.__name__
        and (inspect.isclass(value) or inspect.isfunction(value))
    }
    declared = set(getattr(module, "__all__", ()))
    assert sorted(declared - set(paycheck_core.__all__)) == []
    # A class or function defined here without an underscore is public, so it is declared too.
    if declared:
        assert sorted(public - declared - INTERNAL) == []


def test_no_public_attribute_of_the_package_is_left_out_of_all() -> None:
    public = {
        name
        for name, value in vars(paycheck_core).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and type(value).__module__ != "__future__"  # from __future__ import annotations
    }
    assert sorted(public - set(paycheck_core.__all__)) == []


@pytest.mark.parametrize("name", sorted(paycheck_core.__all__))
def test_every_exported_class_and_function_is_documented(name: str) -> None:
    value = getattr(paycheck_core, name)
    if inspect.isclass(value) or inspect.isfunction(value):
        assert inspect.getdoc(value)


@pytest.mark.parametrize("name", MODELS)
def test_results_are_frozen_dataclasses(name: str) -> None:
    model = getattr(paycheck_core, name)
    params = model.__dataclass_params__
    assert dataclasses.is_dataclass(model)
    assert params.frozen


def test_every_exception_derives_from_paycheck_error() -> None:
    errors = [
        value
        for value in (getattr(paycheck_core, name) for name in paycheck_core.__all__)
        if inspect.isclass(value) and issubclass(value, BaseException)
    ]
    assert len(errors) == 6
    assert all(issubclass(error, paycheck_core.PaycheckError) for error in errors)


def test_the_cache_is_capped_at_one_hour() -> None:
    assert paycheck_core.MAX_CACHE_TTL == 3600
