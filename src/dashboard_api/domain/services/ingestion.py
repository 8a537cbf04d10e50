"""Durable ingestion of engine events: read from a queue in order, apply in batches, acknowledge
after the batch committed.

One process of the fleet consumes at a time (it holds the queue's lease); the others stand by.
On taking the lease it takes every entry left unacknowledged (a crashed consumer's batch) and
applies its own pending entries, oldest first, before reading new ones: so whatever a process
died doing, the events are applied in the order they were added, and handlers, idempotent by
event id, apply each at most once. An event whose prerequisite has not arrived yet (a task
started before it was created) waits, unacknowledged, and so do the later events of the same
task; only an event that could never be applied (malformed, illegal) goes to the dead letters.

The stages overlap, one batch deep: while batch N+1 is read and applied, batch N (committed)
is announced and then acknowledged, and (with a backlog) the read of N+2 is already sent. The
announcements of N+1 start only after N's have ended, so each task's stay in order; nothing is
acknowledged before its batch committed; a pass over pending entries starts only once every
acknowledgement and read in flight has landed (docs/realtime.md, "Overlapped stages").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import msgspec

from dashboard_api.domain.errors import DomainError, InvalidInput
from dashboard_api.domain.json_input import JSON_DECODE_FAILURES, decode_json
from dashboard_api.domain.model.ingestion import IngestStats, Lease
from dashboard_api.domain.ports import IngestDelivery, IngestQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """What became of one event: applied (or already applied before), refused for good, or
    waiting for an earlier event it needs."""

    kind: Literal["applied", "refused", "waiting"]
    reason: str = ""


APPLIED = Verdict("applied")


def refused(reason: str) -> Verdict:
    return Verdict("refused", reason)


def waiting(reason: str) -> Verdict:
    return Verdict("waiting", reason)


# What is left to do once a batch committed (announcing its changes).
AfterCommit = Callable[[], Awaitable[None]]
# Finishes what batches committed but left undone (a process died, or the step failed).
Recovery = Callable[[], Awaitable[None]]


class BatchOutcome(NamedTuple):
    """A batch handler's answer: one verdict per payload, and what is left to do once the
    batch committed, before it is acknowledged (None: nothing). The ingestor runs it while the
    next batch is read and applied, and never two at once, in batch order."""

    verdicts: list[Verdict]
    after_commit: AfterCommit | None = None


# Applies one event; raises DomainError or msgspec errors for an event it refuses.
IngestHandler = Callable[[bytes], Awaitable[None]]
# Applies events in order in one transaction; one verdict per payload (and, in a BatchOutcome,
# what follows the commit). Raises (nothing committed) when it cannot apply them now.
BatchHandler = Callable[[Sequence[bytes]], Awaitable[list[Verdict] | BatchOutcome]]


class Envelope(msgspec.Struct, kw_only=True, frozen=True):
    type: str
    event_id: str
    # Events of one task are applied in the order they were added.
    task_id: str | None = None


# Straight to the decoder (decode_json's wrapper and its cache lookup cost more than decoding an
# envelope); a failure goes through decode_json again for its message.
_decode_envelope = msgspec.json.Decoder(Envelope).decode


@dataclass
class _Registration:
    handler: BatchHandler
    # Types that need no earlier event of their task (a creation): never held back.
    opening: frozenset[str]
    # Whether events wait behind an earlier event of their task that waits.
    by_task: bool = True


def _never(_: Exception) -> bool:
    return False


# How long one read waits for new entries (the Redis client's reply timeout allows for it);
# well under the lease, which each round renews.
BLOCK_MS = 1000


class Ingestor:
    def __init__(
        self,
        queue: IngestQueue,
        *,
        batch: int = 500,
        block_ms: int = BLOCK_MS,
        standby_poll_seconds: float = 1.0,
        waiting_retry_seconds: float = 5.0,
        stats_every_seconds: float = 2.0,
        refusable: Callable[[Exception], bool] = _never,
        stop_grace_seconds: float = 2.0,
    ) -> None:
        self._queue = queue
        self._handlers: dict[str, _Registration] = {}
        self._recoveries: list[Recovery] = []
        self._batch = batch
        self._block_ms = block_ms
        self._standby_poll = standby_poll_seconds
        self._waiting_retry = waiting_retry_seconds
        self._stats_every = stats_every_seconds
        # An error the store raises for one event's content (text it cannot hold): that event
        # is refused instead of blocking every later one.
        self._refusable = refusable
        self._cursor: str | None = "0-0"  # own pending entries still to go through; None: live
        self._blocked: set[str] = set()  # tasks with an event waiting for its prerequisite
        self._waiting: set[str] = set()  # entry ids waiting
        self._retry_at = float("inf")
        self._stats_at = 0.0
        self._stop_grace = stop_grace_seconds
        # The committed batch being announced, then acknowledged, while the next is applied.
        self._tail: asyncio.Task[None] | None = None
        # The next live read, sent while the batch just read is applied.
        self._prefetch: asyncio.Task[list[IngestDelivery]] | None = None
        self.leading = False
        self.applied = 0
        self.rejected = 0
        self.failures = 0
        self.last_error: str | None = None
        self.failing_since: float | None = None
        self.stats = IngestStats(0, 0.0, 0, 0)

    def register(self, event_type: str, handler: IngestHandler) -> None:
        """Apply events of `event_type` one at a time (each in its own transaction)."""
        self._handlers[event_type] = _Registration(_one_by_one(handler), frozenset(), False)

    def register_batch(
        self,
        event_types: Sequence[str],
        handler: BatchHandler,
        *,
        opening: Sequence[str] = (),
        recover: Recovery | None = None,
    ) -> None:
        """Apply consecutive events of these types together, in one call per batch.
        `recover` finishes what a batch left undone after its commit (its announcements) when
        the process doing it died or it failed: run at the start of every pass over pending
        entries, once nothing is in flight, before any entry is applied again."""
        registration = _Registration(handler, frozenset(opening))
        for event_type in event_types:
            self._handlers[event_type] = registration
        if recover is not None:
            self._recoveries.append(recover)

    @property
    def waiting(self) -> int:
        """Events held back until an earlier event of their task arrives."""
        return len(self._waiting)

    @property
    def healthy(self) -> bool:
        """False while ingestion cannot make progress (the queue or the store fails)."""
        return self.failing_since is None

    async def run(self) -> None:
        """Consume until cancelled; survives queue and database outages with backoff."""
        backoff = 0.1
        try:
            while True:
                _stop_if_cancelled()
                try:
                    await self.step()
                    self.failing_since = None
                    backoff = 0.1
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._failed(exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                await self._refresh_stats()
        finally:
            await self._stop_in_flight()
            if self.leading:
                await _quietly(self._queue.resign())

    def _failed(self, exc: Exception, backoff: float) -> None:
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:500]
        if self.failing_since is None:
            self.failing_since = time.monotonic()
        log.warning("ingestion paused (%s); retrying in %.1fs", self.last_error, backoff)

    async def step(self) -> None:
        """One round: keep the lease, then apply a batch of pending or new entries. The
        batch's announcements and acknowledgement may still be under way when it returns (they
        overlap the next round); `settle` waits for them."""
        try:
            await self._step()
        except Exception:
            # Whatever failed mid-batch is still pending: take over and go through it again.
            self._cursor = "0-0"
            self.leading = False
            raise

    async def settle(self) -> None:
        """Wait until the last batch is announced and acknowledged and no read is in flight
        (its entries, delivered to this consumer, are gone through by the next pending pass);
        raises what the acknowledgement raised."""
        prefetch = self._prefetch
        if prefetch is not None:
            # Held until it is done: a stop that lands meanwhile finds it and cancels it.
            await asyncio.wait([prefetch])
            self._prefetch = None
            if not prefetch.cancelled():
                prefetch.exception()  # its entries stay pending: retrieved, not raised
        await self.settle_tail()

    async def _stop_in_flight(self) -> None:
        """On stop: the last batch gets `stop_grace_seconds` to be announced and acknowledged
        (else it is cancelled: the entries stay pending, their marks make a redelivery change
        nothing); a read in flight is cancelled (its entries stay pending)."""
        prefetch, self._prefetch = self._prefetch, None
        tail, self._tail = self._tail, None
        in_flight = [task for task in (prefetch, tail) if task is not None]
        if prefetch is not None:
            prefetch.cancel()
        try:
            if tail is not None:
                await asyncio.wait([tail], timeout=self._stop_grace)
        finally:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)

    async def _step(self) -> None:
        lease = await self._queue.lead()
        if lease is Lease.ELSEWHERE:
            self.leading = False
            await self.settle()
            await asyncio.sleep(self._standby_poll)
            return
        if lease is Lease.ACQUIRED or not self.leading:
            await self.settle()
            taken = await self._queue.take_over()
            self.leading = True
            self._cursor = "0-0"
            if taken:
                log.info("ingestion: took over %d unacknowledged entries", taken)
        if self._cursor is None and time.monotonic() >= self._retry_at:
            self._cursor = "0-0"  # go through what waits again
        if self._cursor is not None:
            # Pending entries are read only once every acknowledgement and read in flight has
            # landed: an entry acknowledged meanwhile would be applied (as a duplicate) again,
            # and one a read delivered after this pass went by would stay pending.
            await self.settle()
            if self._cursor == "0-0":  # a pass over everything pending decides afresh
                self._blocked.clear()
                self._waiting.clear()
                self._retry_at = float("inf")
                for recover in self._recoveries:  # e.g. what a dead process left unannounced
                    await recover()
            deliveries = await self._queue.pending(after=self._cursor, limit=self._batch)
            if not deliveries:
                self._cursor = None
                return
            self._cursor = deliveries[-1].entry_id
        else:
            prefetch, self._prefetch = self._prefetch, None
            if prefetch is None:
                deliveries = await self._queue.read(limit=self._batch, block_ms=self._block_ms)
            else:
                deliveries = await prefetch
            if len(deliveries) >= self._batch:
                # A backlog: the next read is sent while this batch is applied (read after
                # this one returned, it holds the entries that follow it). Caught up, it is
                # not: a read sent now would return the first entry to arrive, a batch of one.
                self._prefetch = asyncio.create_task(
                    self._queue.read(limit=self._batch, block_ms=self._block_ms)
                )
        await self._process(deliveries)

    async def process(self, deliveries: Sequence[IngestDelivery]) -> None:
        """Apply the deliveries in order; acknowledge what was applied, dead-letter what was
        refused, and keep what waits pending. Done when it returns (the loop's rounds leave
        the announcing and acknowledging to overlap the next round)."""
        await self._process(deliveries)
        await self.settle_tail()

    async def _process(self, deliveries: Sequence[IngestDelivery]) -> None:
        rejections: list[tuple[IngestDelivery, str]] = []
        # Consecutive deliveries of one registration form a run, applied as one batch; runs
        # follow stream order. (Grouped per registration, a handler registered per type, as
        # groote-ai's are, saw a task's `task:started` before its `task:created` whenever a
        # read held two tasks: the event waited its 5 s and was dead-lettered.)
        runs: list[tuple[_Registration, list[tuple[IngestDelivery, Envelope]]]] = []
        for delivery in deliveries:
            try:
                envelope = _decode_envelope(delivery.payload)
            except JSON_DECODE_FAILURES:
                try:  # the same refusal, worded by decode_json
                    envelope = decode_json(delivery.payload, field="event", type=Envelope)
                except InvalidInput as exc:
                    rejections.append((delivery, f"not an event: {exc}"))
                    continue
            registration = self._handlers.get(envelope.type)
            if registration is None:
                rejections.append((delivery, f"unknown event type {envelope.type[:64]!r}"))
                continue
            if (
                registration.by_task
                and envelope.task_id in self._blocked
                and envelope.type not in registration.opening
            ):
                self._waiting.add(delivery.entry_id)  # behind an earlier event of its task
                continue
            if runs and runs[-1][0] is registration:
                runs[-1][1].append((delivery, envelope))
            else:
                runs.append((registration, [(delivery, envelope)]))
        done: list[IngestDelivery] = []
        after_commit: list[AfterCommit] = []
        try:
            for registration, items in runs:
                verdicts = await self._apply(
                    registration.handler, [d.payload for d, _ in items], after_commit
                )
                for (delivery, envelope), verdict in zip(items, verdicts, strict=True):
                    if verdict.kind == "applied":
                        done.append(delivery)
                        if registration.by_task and envelope.task_id in self._blocked:
                            self._retry_at = 0.0  # its prerequisite arrived: retry what waits
                    elif verdict.kind == "refused":
                        rejections.append((delivery, f"{envelope.type}: {verdict.reason}"))
                    else:
                        self._waiting.add(delivery.entry_id)
                        if envelope.task_id is not None and registration.by_task:
                            self._blocked.add(envelope.task_id)
                        self._retry_at = min(self._retry_at, time.monotonic() + self._waiting_retry)
        except Exception:
            # A later run failed: what the earlier runs committed is still announced, after the
            # previous batch. If the previous batch's announcement or acknowledgement failed,
            # they are left to the recovery of the pending pass this failure leads to, which
            # publishes what is left in the order it was committed.
            if after_commit:
                try:
                    await self.settle_tail()
                except Exception:
                    log.warning("ingestion: a batch's announcement is left to recovery")
                else:
                    for call in after_commit:
                        await call()
            raise
        # The previous batch's announcements end before this one's start (each task's stay in
        # order); this one's run, then its acknowledgement, while the next batch is applied.
        await self.settle_tail()
        if done or after_commit:
            self._tail = asyncio.create_task(self._finish(after_commit, done))
        for delivery, reason in rejections:
            log.warning("ingest entry %s rejected: %s", delivery.entry_id, reason)
            await self._queue.reject(delivery, reason)
            self.rejected += 1
            self._waiting.discard(delivery.entry_id)

    async def settle_tail(self) -> None:
        """Wait until the last batch is announced and acknowledged; raises what its
        acknowledgement raised (the loop then goes through the pending entries again)."""
        tail = self._tail
        if tail is None:
            return
        try:
            # Shielded and held until done: a stop that lands meanwhile gives it its grace.
            await asyncio.shield(tail)
        finally:
            if tail.done():
                self._tail = None

    async def _finish(self, after_commit: list[AfterCommit], done: list[IngestDelivery]) -> None:
        for call in after_commit:
            await call()
        if done:
            await self._queue.ack(done)
            self.applied += len(done)
            if self._waiting:
                self._waiting.difference_update(delivery.entry_id for delivery in done)

    async def _apply(
        self, handler: BatchHandler, payloads: list[bytes], after_commit: list[AfterCommit]
    ) -> list[Verdict]:
        try:
            outcome = await handler(payloads)
        except Exception as exc:
            if not self._refusable(exc):
                raise
            if len(payloads) == 1:
                return [refused(f"cannot be stored: {exc}"[:500])]
        else:
            if isinstance(outcome, list):
                return outcome
            if outcome.after_commit is not None:
                after_commit.append(outcome.after_commit)
            return outcome.verdicts
        # One event's content broke the whole batch: apply them one by one to find it.
        return [
            verdict
            for payload in payloads
            for verdict in await self._apply(handler, [payload], after_commit)
        ]

    async def _refresh_stats(self) -> None:
        if time.monotonic() - self._stats_at < self._stats_every:
            return
        self._stats_at = time.monotonic()
        try:
            self.stats = await self._queue.stats()
        except Exception as exc:  # the next round reports the outage; figures stay as they were
            log.debug("ingest stats unavailable: %s", exc)


def _stop_if_cancelled() -> None:
    """Stop the loop if it was asked to, even when a library swallowed the CancelledError:
    on Python 3.11 `asyncio.wait_for` (redis-py wraps every command's send in it) returns
    the result of an inner call that finished as the cancel landed, losing the cancel. Seen:
    a cancelled ingest loop that went on for good, so a shutdown that never ended."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _one_by_one(handler: IngestHandler) -> BatchHandler:
    async def apply(payloads: Sequence[bytes]) -> list[Verdict]:
        verdicts: list[Verdict] = []
        for payload in payloads:
            try:
                await handler(payload)
            except (msgspec.DecodeError, msgspec.ValidationError, DomainError) as exc:
                verdicts.append(refused(str(exc)))
            else:
                verdicts.append(APPLIED)
        return verdicts

    return apply


async def _quietly(call: Awaitable[None]) -> None:
    try:
        await call
    except Exception as exc:  # the lease lapses by itself
        log.debug("could not resign the ingest lease: %s", exc)
