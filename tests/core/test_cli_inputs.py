"""What ``paycheck`` accepts as input, checked with no server: dates, secrets, options."""

from __future__ import annotations

from datetime import date

import pytest

from paycheck_core import tokens
from paycheck_core.cli._inputs import (
    InputError,
    check_artifact,
    check_idempotency_key,
    check_period,
    normalize_card,
    parse_day,
)

TODAY = date(2026, 12, 31)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026-12-01", date(2026, 12, 1)),
        (" 2027-02-28 ", date(2027, 2, 28)),
        ("today", TODAY),
        ("TODAY", TODAY),
        ("tomorrow", date(2027, 1, 1)),
    ],
)
def test_a_day_is_an_iso_date_or_today_or_tomorrow(text: str, day: date) -> None:
    assert parse_day(text, today=TODAY, option="--from") == day


@pytest.mark.parametrize(
    "text", ["01/12/2026", "20261201", "2026-1-5", "2026-02-30", "yesterday", "", "2026-W01-1"]
)
def test_anything_else_is_refused_naming_the_option_and_the_format(text: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_day(text, today=TODAY, option="--to")
    assert str(caught.value) == (
        f"--to: {text!r} is not a date; use YYYY-MM-DD (for example 2026-12-01), today or tomorrow"
    )


def test_a_period_of_one_day_is_accepted() -> None:
    check_period(TODAY, TODAY)


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(InputError, match="--to 2026-12-30 is before --from 2026-12-31"):
        check_period(TODAY, date(2026, 12, 30))


def test_a_well_formed_artifact_is_returned_without_surrounding_whitespace() -> None:
    artifact = tokens.generate_artifact()
    assert check_artifact(f"  {artifact}\n", source="stdin") == artifact


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("", "no payment artifact in FILE"),
        (tokens.generate_token(), "FILE holds an access token (pct_...), not a payment artifact"),
        (tokens.generate_artifact()[:-1], "FILE is not a well-formed payment artifact"),
        ("dsWeWXkdsaaw12", "expected 53 characters starting with pca_, got 14 characters"),
    ],
)
def test_anything_but_an_artifact_is_refused_saying_what_it_is(secret: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        check_artifact(secret, source="FILE")
    assert not secret or secret not in str(caught.value)


def test_an_artifact_with_one_character_changed_fails_its_checksum() -> None:
    artifact = tokens.generate_artifact()
    typo = artifact[:10] + ("A" if artifact[10] != "A" else "B") + artifact[11:]
    with pytest.raises(InputError, match="not a well-formed payment artifact"):
        check_artifact(typo, source="the ARTIFACT argument")


@pytest.mark.parametrize(
    "key", [None, "0b9f6a52-5d0e-4a59-9a63-d1f1b0f3c7a1", "3f9c0a6be1d24c7f8a5b9e0d1c2f3a4b"]
)
def test_a_random_idempotency_key_is_accepted(key: str | None) -> None:
    assert check_idempotency_key(key) == key


@pytest.mark.parametrize("key", ["", "x" * 15, "x" * 256, "has a space in it ok"])
def test_a_short_long_or_non_ascii_idempotency_key_is_refused(key: str) -> None:
    with pytest.raises(InputError, match="--idempotency-key must be 16 to 255 visible ASCII"):
        check_idempotency_key(key)


@pytest.mark.parametrize("key", ["x" * 16, "x" * 255, "invoice-00000042"])
def test_a_guessable_idempotency_key_is_refused(key: str) -> None:
    with pytest.raises(InputError, match="--idempotency-key is too") as refused:
        check_idempotency_key(key)
    assert key not in str(refused.value)


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        (None, None),
        ("4242424242424242", "4242424242424242"),
        ("4242 4242 4242 4242", "4242424242424242"),
        ("4000-0000-0000-0002", "4000000000000002"),
    ],
)
def test_a_card_number_loses_its_spaces_and_dashes(typed: str | None, sent: str | None) -> None:
    assert normalize_card(typed) == sent


FULL_WIDTH_CARD = "\uff14\uff12" * 8  # digits to str.isdigit(), but no card number


@pytest.mark.parametrize("typed", ["4242", "4242x4242424242424", FULL_WIDTH_CARD])
def test_a_card_that_is_not_12_to_19_digits_is_refused(typed: str) -> None:
    with pytest.raises(InputError, match="--card must be a card number of 12 to 19 digits"):
        normalize_card(typed)
