"""What the user typed, checked before anything is sent: dates, secrets, options. No I/O.

Every check raises :class:`InputError` whose message is the one line ``paycheck`` prints, so
it names the option and says what would be accepted.
"""

from __future__ import annotations

from datetime import date

from .. import tokens

__all__ = [
    "DATE_WORDS",
    "InputError",
    "check_artifact",
    "check_idempotency_key",
    "check_period",
    "normalize_card",
    "parse_day",
]

DATE_WORDS = ("today", "tomorrow")
"""Words accepted wherever a date is, besides ``YYYY-MM-DD`` (UTC days, as the server counts)."""


class InputError(ValueError):
    """Something the user typed cannot be used; the message says what to type instead."""


def parse_day(text: str, *, today: date, option: str) -> date:
    """Read a day written as ``YYYY-MM-DD``, ``today`` or ``tomorrow``.

    Args:
        text: what the user typed.
        today: the current UTC day (injected so that the function stays pure).
        option: the option's name for the error message, for example ``"--from"``.

    Raises:
        InputError: ``text`` is none of those.

    Example::

        >>> parse_day("tomorrow", today=date(2026, 12, 31), option="--to")
        datetime.date(2027, 1, 1)
    """
    word = text.strip().lower()
    if word == "today":
        return today
    if word == "tomorrow":
        return date.fromordinal(today.toordinal() + 1)
    try:
        # fromisoformat also takes "20261201" and week dates; the contract speaks YYYY-MM-DD only.
        if len(word) != 10:
            raise ValueError(word)
        return date.fromisoformat(word)
    except ValueError:
        raise InputError(
            f"{option}: {text!r} is not a date; use YYYY-MM-DD (for example 2026-12-01), "
            f"today or tomorrow"
        ) from None


def check_artifact(secret: str, *, source: str) -> str:
    """Return ``secret`` stripped if it is a well-formed payment artifact (``pca_...``).

    The checksum catches a truncated or mistyped artifact before the server is asked. The
    secret itself never appears in the message.

    Args:
        secret: the artifact as given.
        source: where it came from, for the message (``"the argument"``, ``"FILE"``, ``"stdin"``).

    Raises:
        InputError: it is empty, an access token, or not well-formed.
    """
    secret = secret.strip()
    if not secret:
        raise InputError(f"no payment artifact in {source}")
    if secret.startswith(tokens.TOKEN_PREFIX):
        raise InputError(
            f"{source} holds an access token (pct_...), not a payment artifact (pca_...); "
            f"the artifact is what 'paycheck bill' printed or saved"
        )
    if not tokens.is_well_formed(secret, prefix=tokens.ARTIFACT_PREFIX):
        raise InputError(
            f"{source} is not a well-formed payment artifact: expected "
            f"{tokens.SECRET_LENGTH} characters starting with {tokens.ARTIFACT_PREFIX}, got "
            f"{len(secret)} characters; check that it was copied whole"
        )
    return secret


def check_idempotency_key(key: str | None) -> str | None:
    """Return ``key`` if the server will accept it as an ``Idempotency-Key``.

    Raises:
        InputError: it is too weak to be a secret (see
            :func:`paycheck_core.tokens.idempotency_key_problem`).
    """
    if key is not None:
        problem = tokens.idempotency_key_problem(key)
        if problem is not None:
            raise InputError(f"--idempotency-key {problem}")
    return key


def normalize_card(card: str | None) -> str | None:
    """Drop the spaces and dashes people type in card numbers (``4242 4242 4242 4242``).

    Raises:
        InputError: what is left is not 12 to 19 digits.
    """
    if card is None:
        return None
    digits = card.replace(" ", "").replace("-", "")
    if not (digits.isascii() and digits.isdigit() and 12 <= len(digits) <= 19):
        raise InputError("--card must be a card number of 12 to 19 digits")
    return digits


def check_period(date_from: date, date_to: date) -> None:
    """Refuse a period that ends before it starts (both days are paid, so equal is one day).

    Raises:
        InputError: ``date_to`` is before ``date_from``.
    """
    if date_to < date_from:
        raise InputError(
            f"--to {date_to} is before --from {date_from}; the period is from --from to --to, "
            f"both days included"
        )
