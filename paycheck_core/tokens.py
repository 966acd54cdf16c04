"""The format of Paycheck's two secrets: access tokens and payment artifacts.

Both are 256 random bits from :mod:`secrets`, written in base62, behind a prefix that says what
the secret is and followed by a 6-character base62 CRC32 checksum of the random part::

    pct_3sZ0gVq7w3W9pYQ1kAWr8mCkQe0Fh1kWcX0yq3mWbZr0Ek4Jp1  (access token)
    pca_...                                                  (payment artifact)

The checksum lets a client or a service reject a mistyped or truncated secret without asking
the payment server, and lets secret scanners recognise a leaked one. The payment server stores
only :func:`digest` of a secret and looks rows up by it.

Example::

    >>> from paycheck_core import tokens
    >>> token = tokens.generate_token()
    >>> tokens.is_well_formed(token, prefix=tokens.TOKEN_PREFIX)
    True
    >>> tokens.is_well_formed(token[:-1])
    False
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib

__all__ = [
    "ARTIFACT_PREFIX",
    "IDEMPOTENCY_KEY_MAX_LENGTH",
    "IDEMPOTENCY_KEY_MIN_LENGTH",
    "SECRET_LENGTH",
    "TOKEN_PREFIX",
    "constant_time_equal",
    "digest",
    "generate_artifact",
    "generate_token",
    "idempotency_key_problem",
    "is_well_formed",
    "secret_from_bytes",
]

TOKEN_PREFIX = "pct_"
"""Prefix of an access token (sent as ``Authorization: Bearer pct_...``)."""

ARTIFACT_PREFIX = "pca_"
"""Prefix of a payment artifact (returned once by ``POST /bill``)."""

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_RANDOM_BYTES = 32
_BODY_LENGTH = 43  # 62**43 > 2**256 > 62**42
_CHECKSUM_LENGTH = 6  # 62**6 > 2**32
_PREFIXES = (TOKEN_PREFIX, ARTIFACT_PREFIX)
_BODY = re.compile(f"[0-9A-Za-z]{{{_BODY_LENGTH}}}")

SECRET_LENGTH = 4 + _BODY_LENGTH + _CHECKSUM_LENGTH
"""Length of every well-formed token and artifact, prefix included (53)."""


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        chars.append(_ALPHABET[remainder])
    return "".join(reversed(chars))


_MAX_BODY = _base62(2 ** (8 * _RANDOM_BYTES) - 1, _BODY_LENGTH)


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), _CHECKSUM_LENGTH)


def secret_from_bytes(prefix: str, raw: bytes) -> str:
    """Encode 32 bytes as a secret with ``prefix``: base62 body and checksum.

    :func:`generate_token` and :func:`generate_artifact` call this with fresh random bytes; the
    payment server calls it with bytes it derives (for example when it replays an idempotent
    answer), so the result has the same format either way.

    Raises:
        ValueError: ``prefix`` is not a known prefix or ``raw`` is not 32 bytes long.
    """
    if prefix not in _PREFIXES:
        raise ValueError(f"prefix must be one of {_PREFIXES!r}, not {prefix!r}")
    if len(raw) != _RANDOM_BYTES:
        raise ValueError(f"a secret is made of {_RANDOM_BYTES} bytes, not {len(raw)}")
    body = _base62(int.from_bytes(raw, "big"), _BODY_LENGTH)
    return prefix + body + _checksum(body)


def generate_token() -> str:
    """Return a new random access token (``pct_...``, 53 characters)."""
    return secret_from_bytes(TOKEN_PREFIX, secrets.token_bytes(_RANDOM_BYTES))


def generate_artifact() -> str:
    """Return a new random payment artifact (``pca_...``, 53 characters)."""
    return secret_from_bytes(ARTIFACT_PREFIX, secrets.token_bytes(_RANDOM_BYTES))


def is_well_formed(secret: object, *, prefix: str | None = None) -> bool:
    """Tell whether ``secret`` has the format of a token or an artifact.

    Checks the prefix, the length, the alphabet and the checksum; it never contacts the server,
    so a well-formed secret may still be unknown, expired or revoked.

    Args:
        secret: the value to check; anything that is not a ``str`` is not well-formed.
        prefix: require this prefix (:data:`TOKEN_PREFIX` or :data:`ARTIFACT_PREFIX`);
            by default either is accepted.

    Raises:
        ValueError: ``prefix`` is neither of the two prefixes (a typo there would otherwise
            deny every secret without a word).
    """
    if prefix is not None and prefix not in _PREFIXES:
        raise ValueError(f"prefix must be one of {_PREFIXES!r} or None, not {prefix!r}")
    if not isinstance(secret, str) or len(secret) != SECRET_LENGTH:
        return False
    head = secret[:4]
    if head not in _PREFIXES or (prefix is not None and head != prefix):
        return False
    body = secret[4 : 4 + _BODY_LENGTH]
    # The body may still encode a number of 2**256 or more; such a secret was never issued.
    # The alphabet is in ASCII order and the width fixed, so comparing the text compares the
    # numbers.
    if _BODY.fullmatch(body) is None or body > _MAX_BODY:
        return False
    return hmac.compare_digest(secret[4 + _BODY_LENGTH :], _checksum(body))


def digest(secret: str) -> str:
    """Return the SHA-256 hex digest of ``secret``: the only form the server stores."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def constant_time_equal(left: str, right: str) -> bool:
    """Compare two secrets or digests in time that does not depend on where they differ."""
    return hmac.compare_digest(
        left.encode("utf-8", "surrogatepass"), right.encode("utf-8", "surrogatepass")
    )


IDEMPOTENCY_KEY_MIN_LENGTH = 16
"""The shortest ``Idempotency-Key`` the payment server accepts."""

IDEMPOTENCY_KEY_MAX_LENGTH = 255
"""The longest ``Idempotency-Key`` the payment server accepts."""


def idempotency_key_problem(key: str) -> str | None:
    """What is wrong with ``key`` as an ``Idempotency-Key``, or ``None`` when it is fine.

    A key is 16 to 255 visible ASCII characters: when the payment server replays an answer
    that carries a secret, it derives that secret from the key, so a short key would be
    guessable. A random UUID (``str(uuid.uuid4())``) is a good key.

    Example::

        >>> idempotency_key_problem("0b9f6a52-5d0e-4a59-9a63-d1f1b0f3c7a1") is None
        True
    """
    if not IDEMPOTENCY_KEY_MIN_LENGTH <= len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH or not all(
        "!" <= char <= "~" for char in key
    ):
        return (
            f"must be {IDEMPOTENCY_KEY_MIN_LENGTH} to {IDEMPOTENCY_KEY_MAX_LENGTH} visible ASCII "
            "characters; use a random UUID"
        )
    return None
