"""Sticky canary assignment: which arm of a rollout serves a subject.

``bucket = sha256(rollout id, subject)`` read as a number in [0, 1); a subject
is on the canary when its bucket is below the step's weight. The bucket never
changes within a rollout, so raising the weight only adds subjects: one on the
canary at 5% is still on it at 25%. A new rollout reshuffles (its id differs).
Without a subject every request draws its own bucket (not sticky).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from typing import Any

ARM_CANARY = "canary"
ARM_STABLE = "stable"
SUBJECT_HEADER = "x-pinyard-subject"
_SCALE = float(2**64)


def bucket(rollout_id: str, subject: str | None) -> float:
    """The subject's place in [0, 1) for this rollout; random when there is no subject."""
    if subject is None:
        return random.random()
    digest = hashlib.sha256(f"{rollout_id}\x00{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def arm_for(rollout_id: str, subject: str | None, weight: float) -> str:
    """``canary`` when the subject's bucket is below ``weight`` percent, else ``stable``."""
    return ARM_CANARY if bucket(rollout_id, subject) * 100 < weight else ARM_STABLE


def subject_of(body: Mapping[str, Any], headers: Mapping[str, str]) -> str | None:
    """Who a request is for: OpenAI ``user``, else ``x-pinyard-subject``, else the API key.

    The key is hashed so it never sits in memory longer than the request needs it.
    """
    user = body.get("user")
    if isinstance(user, str) and user:
        return user
    header = headers.get(SUBJECT_HEADER, "").strip()
    if header:
        return header
    scheme, _, key = headers.get("authorization", "").partition(" ")
    key = key.strip() if scheme.lower() == "bearer" else ""
    key = key or headers.get("x-api-key", "").strip()  # Anthropic SDKs
    if key:
        return "key:" + hashlib.sha256(key.encode()).hexdigest()
    return None
