"""Many users, one store: claims, leases, heartbeats and bounded retries, on a temporary embedded store."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from workbench.errors import TrackingLost
from workbench.run.lease import LeaseKeeper
from workbench.tracking import (
    TAG_LEASE_EXPIRES,
    Lease,
    Tracker,
    is_transient,
    lease_state,
    with_retries,
)

VID = "v" * 64


def _claim_run(tr: Tracker, exp: str, lease: Lease, vid: str = VID) -> str:
    return tr.start_run(exp, "int8", {"workbench.kind": "variant", "workbench.variant_id": vid,
                                      "workbench.origin": "sweep", "workbench.sweep_id": lease.owner,
                                      **lease.tags()})


def test_concurrent_claims_have_exactly_one_winner(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CLAIM_SETTLE_S", "0.2")
    Tracker(root=tmp_path).experiment_id("t")  # create the store once (schema migration is not concurrent)
    for round_ in range(3):
        vid = f"{round_}" * 64
        results: dict[str, bool] = {}
        barrier = threading.Barrier(4)

        def contender(k: int, vid: str = vid, results: dict[str, bool] = results,
                      barrier: threading.Barrier = barrier) -> None:
            tr = Tracker(root=tmp_path)
            exp = tr.experiment_id("t")
            lease = Lease.mine()
            barrier.wait()
            rid = _claim_run(tr, exp, lease, vid)
            results[rid] = tr.claim(exp, rid, vid, lease).won

        threads = [threading.Thread(target=contender, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(results.values()) == 1, results
        tr = Tracker(root=tmp_path)
        exp = tr.experiment_id("t")
        alive = [r.run_id for r in tr.variant_claims(exp, vid)]
        assert alive == [rid for rid, won in results.items() if won]  # the losers withdrew their claims


def test_a_claim_loses_to_finished_unless_forced_and_ignores_dead_owners(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CLAIM_SETTLE_S", "0")
    tr = Tracker(root=tmp_path)
    exp = tr.experiment_id("t")
    done = _claim_run(tr, exp, Lease.mine())
    tr.end_run(done, "FINISHED")
    lease = Lease.mine()
    mine = _claim_run(tr, exp, lease)
    lost = tr.claim(exp, mine, VID, lease)
    assert not lost.won and lost.holder_run_id == done and "already FINISHED" in lost.reason
    forced = _claim_run(tr, exp, lease)
    assert tr.claim(exp, forced, VID, lease, finished_after_ms=None).won  # --force re-measures
    tr.end_run(forced, "FINISHED")
    recent = _claim_run(tr, exp, lease)
    assert tr.claim(exp, recent, VID, lease, finished_after_ms=int(time.time() * 1000) + 60_000).won  # --since

    other = "w" * 64
    dead = _claim_run(tr, exp, dataclasses.replace(Lease.mine(), pid=2**22 + 17), other)  # an older, dead claim
    ours = _claim_run(tr, exp, lease, other)
    assert tr.claim(exp, ours, other, lease).won
    held = {vid: run.run_id for vid, run in tr.live_claims(exp, Lease.mine()).items()}
    assert held == {VID: recent, other: ours}  # the dead owner's older claim does not count
    assert tr.live_claims(exp, lease) == {}  # a sweep never waits for itself
    assert tr.get_run(dead).status == "RUNNING"  # only settle_abandoned settles it, not a claim


def test_an_older_live_claim_of_another_sweep_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CLAIM_SETTLE_S", "0")
    tr = Tracker(root=tmp_path)
    exp = tr.experiment_id("t")
    first, second = Lease.mine(), Lease.mine()
    a = _claim_run(tr, exp, first)
    time.sleep(0.01)
    b = _claim_run(tr, exp, second)
    lost = tr.claim(exp, b, VID, second)
    assert not lost.won and lost.holder_run_id == a and lost.reason.startswith("running elsewhere: run " + a)
    assert tr.get_run(b).lifecycle_stage == "deleted"
    assert tr.claim(exp, a, VID, first).won
    dup = _claim_run(tr, exp, first)  # our own duplicate (a create_run retried after a lost response)
    assert tr.claim(exp, a, VID, first).won
    assert tr.get_run(dup).lifecycle_stage == "deleted"


def test_heartbeat_renews_only_its_own_runs(tmp_path):
    tr = Tracker(root=tmp_path)
    exp = tr.experiment_id("t")
    mine, theirs = Lease.mine(ttl_s=30), Lease.mine(ttl_s=30)
    a, b = _claim_run(tr, exp, mine), _claim_run(tr, exp, theirs)
    before = {r: float(tr.get_run(r).tags[TAG_LEASE_EXPIRES]) for r in (a, b)}
    time.sleep(0.2)
    with LeaseKeeper(tr, exp, mine, every_s=0.3) as keeper:
        time.sleep(1.0)
    assert keeper.beats >= 2 and not keeper.lost
    assert float(tr.get_run(a).tags[TAG_LEASE_EXPIRES]) > before[a]
    assert float(tr.get_run(b).tags[TAG_LEASE_EXPIRES]) == before[b]
    assert tr.settle_own(exp, mine, "KILLED", "test") == [a]
    assert tr.get_run(b).status == "RUNNING"


def test_lease_state():
    assert lease_state({})[0] == "none"
    assert lease_state(Lease.mine().tags())[0] == "live"
    assert lease_state(Lease.mine(ttl_s=-5).tags())[0] == "gone"
    reused = dataclasses.replace(Lease.mine(), process_started=1.0)  # our pid, another process's start time
    assert lease_state(reused.tags()) == ("gone", lease_state(reused.tags())[1])
    assert "pid is now another process" in lease_state(reused.tags())[1]


def test_transient_errors_are_retried_then_reported_in_one_line():
    calls = []

    def flaky() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise ConnectionRefusedError("[Errno 111] Connection refused")
        return "ok"

    assert with_retries(flaky, "get_run", "http://x", 10) == "ok" and len(calls) == 3

    def down() -> None:
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    start = time.monotonic()
    with pytest.raises(TrackingLost) as info:
        with_retries(down, "log_batch", "http://x", 1.2)
    assert 0.4 < time.monotonic() - start < 3
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("MLflow tracking store http://x stopped answering (log_batch: "
                                              "connection refused; retried for")

    def refused() -> None:
        raise ValueError("RESOURCE_DOES_NOT_EXIST: run xyz not found")

    with pytest.raises(ValueError):
        with_retries(refused, "get_run", "http://x", 10)  # not transient: at once


def test_a_closed_port_is_transient_and_bounded():
    tr = Tracker("http://127.0.0.1:9", retry_s=1.0)
    start = time.monotonic()
    with pytest.raises(TrackingLost) as info:
        tr.experiment("x")
    assert time.monotonic() - start < 10
    assert "connection refused" in str(info.value) and "\n" not in str(info.value)
    assert not is_transient(ValueError("INVALID_PARAMETER_VALUE: bad"))
