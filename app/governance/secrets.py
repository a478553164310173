"""Random bearer secrets: generated once, shown once, stored only as a hash.

The secrets are 256-bit random, so a fast hash (sha256) is enough: nobody can
brute-force the input. Comparisons are constant-time all the same.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

TOKEN_PREFIX = "pyd_adm_"
KEY_PREFIX = "pyd_key_"
_SHOWN = 6  # characters after the prefix kept to recognise a secret in listings


@dataclass(frozen=True, slots=True)
class NewSecret:
    secret: str  # returned to the caller once, never stored
    digest: str  # sha256 hex, stored
    prefix: str  # e.g. "pyd_key_Ab3xY9", stored and listed


def new_secret(prefix: str) -> NewSecret:
    secret = prefix + secrets.token_urlsafe(32)
    return NewSecret(secret, hash_secret(secret), secret[: len(prefix) + _SHOWN])


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(8)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_digest(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
