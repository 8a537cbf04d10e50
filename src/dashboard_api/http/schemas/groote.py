"""Bodies of the routes as the groote-ai engine calls them (on when DASHBOARD_GROOTE_EVENTS is
set): the native fields, plus the few that engine sends, still refusing any other."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import UNSET, Meta, UnsetType

from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.limits import Label, Name
from dashboard_api.domain.model.conversations import MessageRole
from dashboard_api.domain.model.engine_reports import EngineReport
from dashboard_api.domain.model.origins import MAX_FLOW_ID_CHARS, MAX_METADATA_BYTES
from dashboard_api.domain.model.tasks import TaskStatus
from dashboard_api.http.schemas.conversations import ConversationCreate, Title
from dashboard_api.http.schemas.fields import LongText, TaskId
from dashboard_api.http.schemas.tasks import TaskCreate, TaskUpdate, check_cost

FlowId = Annotated[str, Meta(min_length=1, max_length=MAX_FLOW_ID_CHARS)]
Metadata = dict[str, Any]
# What groote-ai's PATCH carries; a body with any other field is a native update.
REPORT_FIELDS = frozenset(
    {"status", "output", "error", "cost_usd", "input_tokens", "output_tokens", "duration_seconds"}
)


def check_metadata(value: Metadata | None, field: str) -> Metadata | None:
    if value is not None and len(msgspec.json.encode(value)) > MAX_METADATA_BYTES:
        raise InvalidInput(f"{field} is larger than {MAX_METADATA_BYTES} bytes", field=field)
    return value


class GrooteTaskCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`POST /api/tasks`: without `agent_type` it is groote-ai's registration (an upsert by
    `task_id`: the engine's stream may have created the task first)."""

    agent_type: Name | None = None
    input_message: LongText = ""
    task_id: TaskId | None = None
    status: TaskStatus = TaskStatus.QUEUED
    source: Name = "api"
    assigned_agent: Label | None = None
    session_id: Label | None = None
    conversation_id: Label | None = None
    model: Label | None = None
    created_at: datetime | None = None
    source_metadata: Metadata | None = None
    flow_id: FlowId | None = None

    def native(self) -> TaskCreate:
        fields = msgspec.structs.asdict(self)
        del fields["source_metadata"], fields["flow_id"]
        return TaskCreate(**fields)

    def engine_fields(self) -> dict[str, Any]:
        """What the engine said, as its stream's `task:created` says it."""
        return {
            "input_message": self.input_message,
            "source": self.source,
            "assigned_agent": self.assigned_agent,
            "session_id": self.session_id,
            "conversation_id": self.conversation_id,
        }


class GrooteTaskUpdate(TaskUpdate, kw_only=True, forbid_unknown_fields=True):
    """`PATCH /api/tasks/{id}`, plus the `duration_seconds` groote-ai measures itself."""

    duration_seconds: Annotated[float, Meta(ge=0, le=10**9)] | UnsetType = UNSET

    def is_engine_report(self) -> bool:
        return all(
            name in REPORT_FIELDS
            for name in self.__struct_fields__
            if getattr(self, name) is not UNSET
        )

    def report(self) -> EngineReport:
        cost = check_cost(self.cost_usd)
        return EngineReport(
            status=_known(self.status),
            output=_known(self.output),
            error=_known(self.error),
            cost_usd=None if isinstance(cost, UnsetType) else cost,
            input_tokens=_known(self.input_tokens),
            output_tokens=_known(self.output_tokens),
            duration_seconds=_known(self.duration_seconds),
        )

    def native(self) -> TaskUpdate:
        fields = msgspec.structs.asdict(self)
        del fields["duration_seconds"]
        return TaskUpdate(**fields)


_T = TypeVar("_T")


def _known(value: _T | UnsetType | None) -> _T | None:
    return None if isinstance(value, UnsetType) else value


class GrooteConversationCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`POST /api/conversations`: with `flow_id` it opens (or finds) the flow's conversation."""

    agent_type: Name | None = None
    title: Title = ""
    user_id: Label | None = None
    conversation_id: TaskId | None = None
    flow_id: FlowId | None = None
    source: Name | None = None
    metadata: Metadata | None = None

    def native(self) -> ConversationCreate:
        if self.agent_type is None:
            raise InvalidInput("agent_type is required (or a flow_id)", field="agent_type")
        return ConversationCreate(
            agent_type=self.agent_type,
            title=self.title,
            user_id=self.user_id,
            conversation_id=self.conversation_id,
        )


class FlowConversationView(msgspec.Struct, kw_only=True):
    conversation_id: str
    flow_id: str
    title: str
    agent_type: str
    source: str | None
    metadata: Metadata | None
    created_at: datetime


class FlowView(msgspec.Struct, kw_only=True):
    conversation_id: str
    flow_id: str
    source: str | None
    metadata: Metadata | None
    created_at: datetime


class ContextMessage(msgspec.Struct, kw_only=True):
    role: MessageRole
    content: str
    created_at: datetime


class TaskOriginView(msgspec.Struct, kw_only=True):
    task_id: str
    flow_id: str | None
    source_metadata: Metadata | None
