"""Live announcements of changes made outside the ingestor (REST, OTLP, conversations), staged
with their commit: the API outbox (docs/realtime.md, "REST changes use an outbox of their own").

A change stages its events on the bus inside its transaction under a token naming a
processed-event mark that commits with it, and publishes them after the commit. Whatever a
process leaves (it died between the two, or the bus failed at the publish) is published by the
next change with the same ordering key (before its own), or by `Announcer.announce_left_over`,
which every replica runs every few seconds. A change that did not commit is never announced.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import msgspec

from dashboard_api.domain.clock import Clock, utc_now
from dashboard_api.domain.ids import uuid7
from dashboard_api.domain.model.channels import Event
from dashboard_api.domain.ports import EventBus, UnitOfWork, UnitOfWorkFactory

_log = logging.getLogger(__name__)

_MARK_PREFIX = "announce:"  # a processed-event mark written for an announcement
# At most this many announcements wait in a process for a bus that refused them.
UNSENT_ANNOUNCEMENTS = 10_000


class Announcement(msgspec.Struct, frozen=True):
    """What a change announces once it commits: its events, staged in the outbox under
    `token`, or not staged (`token` None: the bus refused the stage; kept in the process and
    published when the bus takes it again)."""

    token: str | None
    events: list[tuple[str, Event]]
    # Tokens of the same key the outbox held when this one was staged (left over by a
    # process that died after its commit, normally none): published first if committed.
    earlier: list[str] = []


class StagedToken(NamedTuple):
    """What an outbox token says: when it was staged, the key its changes are ordered by (a
    task id, a conversation id), and the processed-event mark that commits with the change.
    Written as `announce/<Unix ms>/<key>/<mark>` (an id never holds a `/`; the mark is the
    rest)."""

    staged_at: datetime
    key: str
    mark: str

    def text(self) -> str:
        millis = int(self.staged_at.timestamp() * 1000)
        return f"announce/{millis}/{self.key}/{self.mark}"

    @classmethod
    def parse(cls, token: str) -> StagedToken | None:
        """The token's parts; None for text that is not such a token."""
        parts = token.split("/", 3)
        if len(parts) != 4 or parts[0] != "announce" or not parts[1].isdigit():
            return None
        _, millis, key, mark = parts
        if not key or not mark:
            return None
        return cls(datetime.fromtimestamp(int(millis) / 1000, UTC), key, mark)


class Announcer:
    def __init__(
        self,
        *,
        unit_of_work: UnitOfWorkFactory,
        bus: EventBus,
        clock: Clock = utc_now,
        outbox: str = "dashboard:api:announcing",
        publish_left_after: timedelta = timedelta(seconds=2),
        drop_unsettled_after: timedelta = timedelta(seconds=120),
    ) -> None:
        self._uow = unit_of_work
        self._bus = bus
        self._clock = clock
        self._outbox = outbox
        # `announce_left_over` publishes what a committed change left once it has waited
        # `publish_left_after`, and drops what a change that did not commit staged once no
        # transaction can still commit it (`drop_unsettled_after`).
        self._publish_left_after = publish_left_after
        self._drop_unsettled_after = drop_unsettled_after
        # Announcements of committed changes the bus refused to stage, oldest first.
        self._unsent: collections.deque[list[tuple[str, Event]]] = collections.deque(
            maxlen=UNSENT_ANNOUNCEMENTS
        )

    async def stage(
        self,
        uow: UnitOfWork,
        key: str,
        events: list[tuple[str, Event]],
        *,
        mark: str | None = None,
    ) -> Announcement:
        """Stage `events` in the outbox under a token naming a processed-event mark that
        commits with the change (`mark`, an engine event's, or one written here in `uow`). A
        bus that refuses the stage does not fail the change (REST shows it; a 503 would make
        a client retry a create and meet a 409)."""
        now = self._clock()
        staged = StagedToken(now, key, mark or f"{_MARK_PREFIX}{uuid7()}")
        token = staged.text()
        try:
            held = await self._bus.stage(self._outbox, token, events)
        except Exception as exc:
            _log.warning("%s: announcement not staged: %s", key, exc)
            return Announcement(None, events)
        if mark is None:  # (`add_many`: one prepared statement on asyncpg, not SQLAlchemy's)
            await uow.processed_events.add_many([staged.mark], now)
        earlier = [t for t in held if (p := StagedToken.parse(t)) is not None and p.key == key]
        return Announcement(token, events, earlier)

    async def announce(self, announcement: Announcement) -> None:
        """Publish a committed change's announcement, after whatever this process could not
        stage and the earlier changes of the same key left over (a process that died after
        its commit, in any replica): so one key's changes are announced in the order they
        committed. A failure is logged, never raised: the change is done; what was staged is
        published by `announce_left_over`."""
        if announcement.token is None:  # the bus just refused it: retried by the next round
            if len(self._unsent) == self._unsent.maxlen:
                _log.error("an unsent announcement is dropped: over %d wait", len(self._unsent))
            self._unsent.append(announcement.events)
            return
        try:
            await self._publish_unsent()
            if announcement.earlier:
                await self._publish_committed(announcement.earlier)
            await self._bus.publish_staged(self._outbox, announcement.token)
        except Exception as exc:
            _log.warning("announcement left to recovery: %s", exc)

    async def announce_left_over(self) -> int:
        """What changes staged and did not publish (their process died, or the bus failed
        after the commit): published, oldest first, when the change committed (its mark
        exists) and it has waited `publish_left_after`; dropped when it did not commit and no
        transaction can still commit it. Safe to run in every replica at once: a staged part
        is removed in the step that publishes it. First publishes, in order, what this
        process could not stage (until the bus refuses again). Returns how many it published
        (unsent and left over)."""
        published = await self._publish_unsent()
        now = self._clock()
        due: list[str] = []
        for token in await self._bus.staged(self._outbox):
            parsed = StagedToken.parse(token)
            if parsed is None:  # not a token of ours: nothing can ever publish it
                await self._bus.drop_staged(self._outbox, token)
            elif now - parsed.staged_at >= self._publish_left_after:
                due.append(token)
        if not due:
            return published
        left = await self._publish_committed(due)
        for token in left:
            parsed = StagedToken.parse(token)
            if parsed is not None and now - parsed.staged_at >= self._drop_unsettled_after:
                await self._bus.drop_staged(self._outbox, token)
        return published + len(due) - len(left)

    async def _publish_unsent(self) -> int:
        published = 0
        while self._unsent:
            await self._bus.publish_many(self._unsent[0])
            self._unsent.popleft()
            published += 1
        return published

    async def _publish_committed(self, tokens: Sequence[str]) -> list[str]:
        """Publish, in the order given, the staged announcements whose change committed (their
        mark exists); returns the others."""
        marks = {token: parsed.mark for token in tokens if (parsed := StagedToken.parse(token))}
        async with self._uow() as uow:
            committed = await uow.processed_events.seen(list(marks.values()))
        left: list[str] = []
        for token in tokens:
            if marks.get(token) in committed:
                _log.info("publishing the announcement left over by %s", token)
                await self._bus.publish_staged(self._outbox, token)
            else:
                left.append(token)
        return left


async def publish_once(
    unit_of_work: UnitOfWorkFactory,
    bus: EventBus,
    clock: Clock,
    events: Sequence[tuple[str, str, Event]],
) -> None:
    """Live events that change no row (an engine's pieces of output), each `(mark, channel,
    event)` published once: the marks read in one statement, the events not sent yet
    published in one call (in order), then marked (a process that dies in between sends them
    again: at least once, never lost; marked meanwhile by another replica: nothing to add)."""
    async with unit_of_work() as uow:
        sent = await uow.processed_events.seen([mark for mark, _, _ in events])
    unsent = [(mark, channel, event) for mark, channel, event in events if mark not in sent]
    if not unsent:
        return
    await bus.publish_many([(channel, event) for _, channel, event in unsent])
    async with unit_of_work() as uow:
        await uow.processed_events.claim([mark for mark, _, _ in unsent], clock())
        await uow.commit()
