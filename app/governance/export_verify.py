"""Offline verification of an exported audit trail (``pinyard audit verify --file``).

Each line must be exactly the canonical JSON the export wrote for its event
(so no byte can change unnoticed, whitespace included), each event's hash
must match its content, and each must link to the one before. An export
that starts mid-chain verifies from its first event's ``prev_hash``: it proves
the file is intact and internally linked, not that nothing preceded it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from app.bundles.spec import canonical_json
from app.registry.audit import ChainReport, event_hash
from app.registry.tables import as_utc


def export_line(event: dict[str, Any]) -> str:
    """How ``pinyard audit export`` writes one event (verification depends on it)."""
    return json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n"


def _stored(value: Any) -> str | None:
    """``before``/``after`` as the audit table stores them (canonical JSON text)."""
    return None if value is None else canonical_json(value).decode()


def _recompute(event: dict[str, Any]) -> str:
    return event_hash(
        seq=event["seq"],
        at=as_utc(datetime.fromisoformat(event["at"])),
        actor=event["actor"],
        action=event["action"],
        target=event["target"],
        before=_stored(event["before"]),
        after=_stored(event["after"]),
        reason=event["reason"],
        prev_hash=event["prev_hash"],
    )


def verify_export(data: bytes) -> ChainReport:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ChainReport(False, 0, None, f"the file is not UTF-8 text: {exc.reason}")
    if text and not text.endswith("\n"):
        return ChainReport(False, 0, None, "the file does not end with a newline (truncated?)")
    expected_seq: int | None = None
    prev_hash: str | None = None
    count = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        count += 1
        try:
            event = json.loads(line)
            if export_line(event) != line:
                return ChainReport(
                    False, count, None, f"line {number} was edited (not as exported)"
                )
            seq, recomputed = event["seq"], _recompute(event)
            stored_hash = event["hash"]
        except (ValueError, KeyError, TypeError) as exc:
            return ChainReport(False, count, None, f"line {number} is not an audit event: {exc}")
        if expected_seq is not None and seq != expected_seq:
            return ChainReport(
                False, count, seq, f"event {expected_seq} is missing (next is {seq})"
            )
        if prev_hash is not None and event["prev_hash"] != prev_hash:
            return ChainReport(False, count, seq, f"event {seq} does not link to event {seq - 1}")
        if recomputed != stored_hash:
            return ChainReport(
                False, count, seq, f"event {seq} was altered (its hash does not match)"
            )
        expected_seq, prev_hash = seq + 1, stored_hash
    return ChainReport(True, count)
