"""The conversation, message and outbox contract: every adapter orders, filters and rolls back
the same way."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import msgspec
import pytest

from dashboard_api.domain.errors import Conflict
from dashboard_api.domain.model.conversations import (
    ConversationCursor,
    ConversationQuery,
    ConversationTotals,
    MessageCursor,
    MessageQuery,
)
from dashboard_api.domain.model.handoff import OutboxEntry
from tests.contract.conftest import Backend
from tests.factories import EPOCH
from tests.record_factories import conversation, message


async def test_a_conversation_reads_back_with_its_totals(backend: Backend) -> None:
    stored = conversation(title="ünïcode ✓", user_id=None)
    async with backend.unit_of_work() as uow:
        await uow.conversations.add(stored)
        await uow.commit()
    assert await backend.conversations.get(stored.conversation_id) == stored
    assert await backend.conversations.get("missing") is None


async def test_a_duplicate_conversation_id_is_a_conflict(backend: Backend) -> None:
    stored = conversation()
    async with backend.unit_of_work() as uow:
        await uow.conversations.add(stored)
        await uow.commit()
    with pytest.raises(Conflict):
        async with backend.unit_of_work() as uow:
            await uow.conversations.add(stored)


async def test_totals_move_by_increments_and_updated_at_follows_activity(backend: Backend) -> None:
    stored = conversation()
    later = stored.updated_at + timedelta(minutes=5)
    async with backend.unit_of_work() as uow:
        await uow.conversations.add(stored)
        delta = ConversationTotals(
            messages=1, tasks=1, cost_usd=Decimal("0.123456"), input_tokens=10, output_tokens=2
        )
        await uow.conversations.add_totals(stored.conversation_id, delta, active_at=later)
        await uow.conversations.add_totals(
            stored.conversation_id,
            ConversationTotals(cost_usd=Decimal("-0.000006")),
            active_at=None,
        )
        await uow.conversations.add_totals("missing", delta, active_at=None)
        await uow.commit()
    read = await backend.conversations.get(stored.conversation_id)
    assert read is not None
    assert read.updated_at == later
    assert read.totals == ConversationTotals(
        messages=1, tasks=1, cost_usd=Decimal("0.123450"), input_tokens=10, output_tokens=2
    )


async def test_update_changes_title_and_archive_but_never_totals(backend: Backend) -> None:
    stored = conversation()
    async with backend.unit_of_work() as uow:
        await uow.conversations.add(stored)
        await uow.conversations.add_totals(
            stored.conversation_id, ConversationTotals(messages=3), active_at=None
        )
        edited = msgspec.structs.replace(stored, title="renamed", archived=True)
        assert await uow.conversations.update(edited)
        assert not await uow.conversations.update(conversation())
        await uow.commit()
    read = await backend.conversations.get(stored.conversation_id)
    assert read is not None
    assert (read.title, read.archived, read.totals.messages) == ("renamed", True, 3)


async def test_conversations_page_most_recently_active_first(backend: Backend) -> None:
    rows = [conversation(minutes=i, user_id=f"u-{i % 2}", archived=i % 3 == 0) for i in range(13)]
    rows += [conversation(minutes=20) for _ in range(3)]  # ties on updated_at
    async with backend.unit_of_work() as uow:
        for row in rows:
            await uow.conversations.add(row)
        await uow.commit()
    for user_id, archived in ((None, None), ("u-1", None), (None, False), ("u-0", True)):
        expected = sorted(
            (
                row
                for row in rows
                if (user_id is None or row.user_id == user_id)
                and (archived is None or row.archived == archived)
            ),
            key=lambda row: (row.updated_at, row.conversation_id),
            reverse=True,
        )
        seen = []
        after = None
        while True:
            query = ConversationQuery(user_id=user_id, archived=archived, limit=4, after=after)
            page = await backend.conversations.find(query)
            seen += page
            if len(page) < 4:
                break
            after = ConversationCursor(page[-1].updated_at, page[-1].conversation_id)
        assert [row.conversation_id for row in seen] == [r.conversation_id for r in expected]


async def test_messages_page_oldest_first_per_conversation(backend: Backend) -> None:
    first, other = conversation(), conversation()
    messages = [message(first.conversation_id, seconds=i // 2) for i in range(11)]
    async with backend.unit_of_work() as uow:
        await uow.conversations.add(first)
        await uow.conversations.add(other)
        for row in reversed(messages):
            await uow.messages.add(row)
        await uow.messages.add(message(other.conversation_id))
        await uow.commit()
    expected = sorted(messages, key=lambda row: (row.created_at, row.message_id))
    seen = []
    after = None
    while True:
        query = MessageQuery(conversation_id=first.conversation_id, limit=3, after=after)
        page = await backend.messages.find(query)
        seen += page
        if len(page) < 3:
            break
        after = MessageCursor(page[-1].created_at, page[-1].message_id)
    assert seen == expected


async def test_deleting_a_conversation_deletes_its_messages(backend: Backend) -> None:
    stored = conversation()
    async with backend.unit_of_work() as uow:
        await uow.conversations.add(stored)
        await uow.messages.add(message(stored.conversation_id))
        await uow.commit()
    async with backend.unit_of_work() as uow:
        assert await uow.conversations.delete(stored.conversation_id)
        assert not await uow.conversations.delete(stored.conversation_id)
        await uow.commit()
    assert await backend.conversations.get(stored.conversation_id) is None
    query = MessageQuery(conversation_id=stored.conversation_id)
    assert await backend.messages.find(query) == []


async def test_uncommitted_messages_and_outbox_entries_are_rolled_back(backend: Backend) -> None:
    stored = conversation()
    async with backend.unit_of_work() as uow:
        await uow.conversations.add(stored)
        await uow.commit()
    async with backend.unit_of_work() as uow:
        await uow.messages.add(message(stored.conversation_id))
        await uow.outbox.add(OutboxEntry(entry_id="e", queue="q", payload={}, created_at=EPOCH))
        await uow.conversations.add_totals(
            stored.conversation_id, ConversationTotals(messages=1), active_at=None
        )
    assert await backend.messages.find(MessageQuery(conversation_id=stored.conversation_id)) == []
    read = await backend.conversations.get(stored.conversation_id)
    assert read is not None
    assert read.totals.messages == 0
    async with backend.unit_of_work() as uow:
        assert await uow.outbox.claim(10) == []


async def test_the_outbox_hands_out_the_oldest_entries_until_removed(backend: Backend) -> None:
    entries = [
        OutboxEntry(
            entry_id=f"e{i}",
            queue="engine",
            payload={"task_id": f"t{i}", "n": i},
            created_at=EPOCH + timedelta(seconds=i),
        )
        for i in range(5)
    ]
    async with backend.unit_of_work() as uow:
        for entry in reversed(entries):
            await uow.outbox.add(entry)
        await uow.commit()
    async with backend.unit_of_work() as uow:
        assert await uow.outbox.claim(3) == entries[:3]
        await uow.outbox.remove("e0")
        await uow.commit()
    async with backend.unit_of_work() as uow:
        assert [entry.entry_id for entry in await uow.outbox.claim(10)] == ["e1", "e2", "e3", "e4"]
