"""An on-disk response cache: re-running a suite on the same digest makes no provider calls.

A reply is filed under the sha256 of (bundle digest, what was asked, repeat
index): the same system version given the same case answers the same way on
a re-run, which makes CI runs reproducible and cheap. Failures are never
stored, so a provider outage is retried next time. Entries are written
atomically (temporary file + rename) so parallel runs cannot tear them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

from app.bundles.spec import canonical_json
from app.evals.targets import Reply

DEFAULT_CACHE_DIR = Path(".pinyard-cache")
log = logging.getLogger("pinyard.evals")


def cache_key(digest: str, request: dict[str, Any], repeat: int) -> str:
    material = {"bundle": digest, "request": request, "repeat": repeat}
    return hashlib.sha256(canonical_json(material)).hexdigest()


class ResponseCache:
    def __init__(self, root: Path) -> None:
        self.root = root / "responses"
        self.hits = 0
        self.stores = 0
        self.write_errors = 0

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Reply | None:
        try:
            data = orjson.loads(self._path(key).read_bytes())
            reply = Reply.from_dict(data)
        except FileNotFoundError:
            return None
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None  # an unreadable entry is a miss; the next store replaces it
        self.hits += 1
        return reply

    def put(self, key: str, reply: Reply) -> None:
        """Store a reply; a cache that cannot be written is skipped, never fatal to a run."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        except OSError as exc:
            self._failed(exc)
            return
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(orjson.dumps(reply.as_dict()))
            os.replace(temporary, path)
        except OSError as exc:
            Path(temporary).unlink(missing_ok=True)
            self._failed(exc)
            return
        self.stores += 1

    def _failed(self, exc: OSError) -> None:
        if not self.write_errors:
            log.warning(
                "eval cache %s is not writable (%s); answers are not cached", self.root, exc
            )
        self.write_errors += 1
