"""Request ids: unique, time-ordered, and not shared with a forked child."""

from __future__ import annotations

import os
import re
import time

import pytest

from app.gateway.lineage import _RequestIds

ID = re.compile(r"^req_[0-9a-f]{32}$")


def test_ids_are_unique_well_formed_and_carry_their_millisecond() -> None:
    ids = _RequestIds()
    before = time.time_ns() // 1_000_000
    drawn = [ids() for _ in range(5000)]  # several refills of the random pool
    after = time.time_ns() // 1_000_000
    assert len(set(drawn)) == len(drawn)
    assert all(ID.match(i) for i in drawn)
    stamps = [int(i[4:16], 16) for i in drawn]
    assert stamps == sorted(stamps) and before <= stamps[0] and stamps[-1] <= after


def test_later_ids_sort_after_earlier_ones() -> None:
    ids = _RequestIds()
    first = ids()
    time.sleep(0.002)
    assert ids() > first


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_draws_its_own_randomness() -> None:
    ids = _RequestIds()
    ids()  # the parent's pool is filled
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, ids()[16:].encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child_random = os.read(read, 64).decode()
    os.close(read)
    os.close(write)
    assert ids()[16:] != child_random  # same position in the pool, different bytes
