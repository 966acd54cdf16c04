"""``Idempotency-Key`` on ``POST /bill`` and ``POST /pay``, as plain functions. No I/O.

A retried request with the same key and the same body gets the first answer again, without a
second bill or charge; the same key with another body is a 400. Answers hold a secret (the
payment artifact, the token) and secrets are never stored, so the secret of an idempotent
request is *derived from the key*::

    secret = secret_from_bytes(prefix, HMAC-SHA256(key, salt))

The database keeps ``sha256(key)`` (to find the record), the random ``salt``, a digest of the
request body, the answer without its secret, and the digest of the secret. A replay recomputes
the secret from the key the client sends again. The key is therefore a credential, as good as
the secret it gives back: the server refuses keys that are too weak to be one (see
:func:`paycheck_core.tokens.idempotency_key_problem`); **use a random UUID as the key**.

``/pay`` stores its key's record before it calls the payment provider, with no answer yet
(*in progress*), and adds the answer when it is done. A retry of a request cut off in between
takes the record over (:meth:`NewKey.resumed`), so that its answer carries the same secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

from paycheck_core import tokens

from .errors import BadRequestError

__all__ = [
    "MAX_KEY_LENGTH",
    "MIN_KEY_LENGTH",
    "KeyTaken",
    "NewKey",
    "StoredKey",
    "derive_secret",
    "key_digest",
    "new_key",
    "replay",
    "request_digest",
    "validate_key",
]

MIN_KEY_LENGTH = tokens.IDEMPOTENCY_KEY_MIN_LENGTH
MAX_KEY_LENGTH = tokens.IDEMPOTENCY_KEY_MAX_LENGTH


class KeyTaken(Exception):  # noqa: N818 - a state of the key, not a failure of the server
    """The key's record belongs to another request: it has an answer, or another body.

    The caller answers as a replay does: the first answer again, or a 400.
    """


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key seen for the first time: what to store, and the secret its answer carries.

    It holds the key itself (never stored, never shown in ``repr``) so that a record already
    stored for it can be taken over with that record's salt.
    """

    endpoint: str
    key_digest: str
    request_digest: str
    salt: str
    secret: str = field(repr=False)
    key: str = field(repr=False)
    prefix: str

    def resumed(self, salt: str) -> NewKey:
        """The same key with the ``salt`` of its stored record, and the secret that gives."""
        if salt == self.salt:
            return self
        return replace(self, salt=salt, secret=derive_secret(self.key, salt, self.prefix))


def validate_key(key: str) -> str:
    """Check an ``Idempotency-Key`` header value and return it.

    Raises:
        BadRequestError: the key is shorter than 16 or longer than 255 characters, holds
            characters other than visible ASCII, or is too weak to be a secret (fewer than 128
            bits of estimated randomness, repetitive or sequential, a UUID other than version
            4); the description says what a key must be and never quotes it.
    """
    problem = tokens.idempotency_key_problem(key)
    if problem is not None:
        raise BadRequestError(f"Idempotency-Key {problem}")
    return key


def key_digest(key: str) -> str:
    """The SHA-256 hex digest under which a key is stored."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def request_digest(endpoint: str, body: Any) -> str:
    """A digest of the request: the endpoint and its JSON body in canonical form.

    Two bodies that differ only in key order or whitespace have the same digest.
    """
    canonical = json.dumps([endpoint, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def derive_secret(key: str, salt: str, prefix: str) -> str:
    """The secret (token or artifact, by ``prefix``) that the key and salt stand for."""
    raw = hmac.new(key.encode("ascii"), bytes.fromhex(salt), "sha256").digest()
    return tokens.secret_from_bytes(prefix, raw)


def new_key(endpoint: str, key: str, body: Any, *, prefix: str) -> NewKey:
    """Prepare the record of a first request with ``key``: a fresh salt and its secret."""
    salt = secrets.token_hex(32)
    return NewKey(
        endpoint=endpoint,
        key_digest=key_digest(key),
        request_digest=request_digest(endpoint, body),
        salt=salt,
        secret=derive_secret(key, salt, prefix),
        key=key,
        prefix=prefix,
    )


@dataclass(frozen=True, slots=True)
class StoredKey:
    """What the database remembers of a key: enough to replay its answer.

    ``response`` is ``None`` while the first request with the key is still in progress.
    """

    request_digest: str
    salt: str
    secret_digest: str
    response: dict[str, Any] | None


def replay(
    stored: StoredKey, *, key: str, request: str, prefix: str, field: str
) -> dict[str, Any] | None:
    """The first answer given for ``key``, with its secret derived again.

    Returns ``None`` while the first request is still in progress (or was cut off): the
    caller goes on with the request, which takes the record over.

    Args:
        stored: the record of the key.
        key: the key the client sent.
        request: :func:`request_digest` of the request being retried.
        prefix: the secret's prefix (``pca_`` for ``/bill``, ``pct_`` for ``/pay``).
        field: the answer's field that holds the secret.

    Raises:
        BadRequestError: the key was used with another request body.
    """
    if not tokens.constant_time_equal(stored.request_digest, request):
        raise BadRequestError(
            "Idempotency-Key was already used with a different request body; "
            "use a new key for a new request"
        )
    if stored.response is None:
        return None
    secret = derive_secret(key, stored.salt, prefix)
    if not tokens.constant_time_equal(tokens.digest(secret), stored.secret_digest):
        # Only a SHA-256 collision of two keys gets here; never answer with another's secret.
        raise BadRequestError("Idempotency-Key does not match its record; use a new key")
    return {**stored.response, field: secret}
