"""Leases and claims on the store: settling runs whose sweep is gone, the heartbeat, and claiming a variant.
A mixin of ``Tracker`` (``workbench.tracking.store``), which provides the runs, tags and the client."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from workbench.tracking.leases import Claim, Lease, lease_state
from workbench.tracking.names import (
    KIND_VARIANT,
    ORIGIN_ADHOC,
    TAG_FAILURE,
    TAG_INTEGRITY,
    TAG_KIND,
    TAG_LEASE_EXPIRES,
    TAG_LEASE_OWNER,
    TAG_ORIGIN,
    TAG_SWEEP,
    TAG_VARIANT,
)
from workbench.tracking.records import RunRecord, RunStatus
from workbench.tracking.retry import claim_settle_s


class Claims:
    """Who owns a RUNNING run, and who may run a variant (see ``claim``)."""

    if TYPE_CHECKING:  # provided by Tracker
        _client: Any

        def runs(self, experiment_id: str, filter_string: str = "", statuses: Iterable[str] | None = None,
                 max_results: int = 5000) -> list[RunRecord]: ...

        def set_tags(self, run_id: str, tags: dict[str, Any]) -> None: ...

        def end_run(self, run_id: str, status: RunStatus | str = RunStatus.FINISHED) -> None: ...

        def finished_variant_runs(self, experiment_id: str, since_ms: int = 0) -> dict[str, RunRecord]: ...

    def settle_abandoned(self, experiment_id: str) -> list[str]:
        """RUNNING runs whose owner is provably gone (``lease_state``) -> KILLED, with the reason tagged.
        Runs without a lease (hand runs, the explorer, ``profile --log-to``) and runs of live sweeps are
        never touched. Returns the ids settled."""
        ids = []
        now = time.time()
        for run in self.runs(experiment_id, statuses=[RunStatus.RUNNING]):
            state, why = lease_state(run.tags, now)
            if state != "gone":
                continue
            self.set_tags(run.run_id, {TAG_FAILURE: f"killed: its sweep is gone ({why})"})
            self.end_run(run.run_id, RunStatus.KILLED)
            ids.append(run.run_id)
        return ids

    def renew(self, experiment_id: str, lease: Lease) -> int:
        """Heartbeat: push the expiry of every RUNNING run this lease owns. Returns how many."""
        runs = self.runs(experiment_id, f"tags.`{TAG_LEASE_OWNER}` = '{lease.owner}'", statuses=[RunStatus.RUNNING])
        expires = lease.tags()[TAG_LEASE_EXPIRES]
        for run in runs:
            self._client.set_tag(run.run_id, TAG_LEASE_EXPIRES, expires)
        return len(runs)

    def settle_own(self, experiment_id: str, lease: Lease, status: RunStatus | str, reason: str,
                   keep: Iterable[str] = ()) -> list[str]:
        """End every run this lease still holds RUNNING (but ``keep``) with ``status`` and ``reason``."""
        kept = set(keep)
        ids = []
        for run in self.runs(experiment_id, f"tags.`{TAG_LEASE_OWNER}` = '{lease.owner}'", statuses=[RunStatus.RUNNING]):
            if run.run_id in kept:
                continue
            self.set_tags(run.run_id, {TAG_FAILURE: reason})
            self.end_run(run.run_id, status)
            ids.append(run.run_id)
        return ids

    def variant_claims(self, experiment_id: str, variant_id: str) -> list[RunRecord]:
        """The sweep runs of one variant id (RUNNING or FINISHED), oldest claim first."""
        wanted = f"tags.`{TAG_VARIANT}` = '{variant_id}' and tags.`{TAG_KIND}` = '{KIND_VARIANT}'"
        runs = self.runs(experiment_id, wanted, statuses=[RunStatus.RUNNING, RunStatus.FINISHED])
        runs = [r for r in runs if r.tags.get(TAG_ORIGIN) != ORIGIN_ADHOC and not r.tags.get(TAG_INTEGRITY)]
        return sorted(runs, key=lambda r: (r.start_time or 0, r.run_id))

    def live_claims(self, experiment_id: str, lease: Lease | None = None) -> dict[str, RunRecord]:
        """variant id -> the oldest RUNNING sweep run of another live owner (what a new sweep must leave alone)."""
        out: dict[str, RunRecord] = {}
        now = time.time()
        runs = self.runs(experiment_id, f"tags.`{TAG_KIND}` = '{KIND_VARIANT}'", statuses=[RunStatus.RUNNING])
        for run in sorted(runs, key=lambda r: (r.start_time or 0, r.run_id)):
            tags = run.tags
            if lease is not None and tags.get(TAG_LEASE_OWNER) == lease.owner:
                continue
            vid = tags.get(TAG_VARIANT)
            if vid and vid not in out and lease_state(tags, now)[0] == "live":
                out[vid] = run
        return out

    def claim(self, experiment_id: str, run_id: str, variant_id: str, lease: Lease,
              finished_after_ms: int | None = 0) -> Claim:
        """Decide whether the run just created for ``variant_id`` (tagged with ``lease``) may run it.

        MLflow has no compare-and-set, so: create first (the caller did), wait ``claim_settle_s``, then read
        every RUNNING / FINISHED sweep run of the variant. It loses to a FINISHED run that counts (ended after
        ``finished_after_ms``; ``None`` = --force, FINISHED runs do not count) and to any live claim of another
        owner created before it (start time, then run id). Two claimants that read each other decide alike; one
        that read before the other's claim existed was created earlier by at least the settle pause, so the
        order holds as long as the machines' clocks agree within that pause. Extra RUNNING runs of our own
        lease for the same variant (a ``create_run`` retried after a lost response) are deleted. A loser
        deletes its own claim."""
        time.sleep(claim_settle_s())
        mine = None
        now = time.time()
        for run in self.variant_claims(experiment_id, variant_id):
            tags, rid = run.tags, run.run_id
            if rid == run_id:
                mine = run
                continue
            if run.status == RunStatus.FINISHED:
                if finished_after_ms is not None and (run.end_time or 0) >= finished_after_ms:
                    return self._lose(run_id, f"already FINISHED in run {rid}", rid)
                continue
            if tags.get(TAG_LEASE_OWNER) == lease.owner:
                self._client.delete_run(rid)  # our own duplicate
                continue
            state, why = lease_state(tags, now)
            if state == "live" and mine is None:  # sorted: a live claim older than ours
                sweep = tags.get(TAG_SWEEP, "?")
                return self._lose(run_id, f"running elsewhere: run {rid} of sweep {sweep} ({why})", rid)
        if mine is None:
            return Claim(False, f"its claim (run {run_id}) is no longer in the store")
        return Claim(True)

    def decision_basis(self, experiment_id: str, variant_ids: Iterable[str]) -> dict[str, RunRecord]:
        """variant id -> the newest finished result of each of ``variant_ids`` in the whole experiment, whichever
        sweep, work directory or machine measured it (the runs a sweep counts as done: complete, not a hand run,
        not failed by its checksums). A recommendation is decided over these, so two sweeps that split an
        experiment decide alike; reading them again after publishing tells a sweep whether another one finished
        a result meanwhile (then it decides again, see ``run.settle``)."""
        newest = self.finished_variant_runs(experiment_id)
        return {vid: newest[vid] for vid in variant_ids if vid in newest}

    def _lose(self, run_id: str, reason: str, holder: str) -> Claim:
        self._client.delete_run(run_id)
        return Claim(False, reason, holder)

    def try_settle(self, run_id: str, status: RunStatus | str, reason: str) -> bool:
        """Tag the reason and end the run, retrying only within this tracker's budget (the store may be down:
        a Tracker made with ``retry_s=0`` tries once). False if the store refused."""
        try:
            self._client.set_tag(run_id, TAG_FAILURE, reason[:5000])
            self._client.set_terminated(run_id, str(status))
            return True
        except Exception:
            return False
