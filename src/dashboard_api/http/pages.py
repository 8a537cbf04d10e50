"""Names for the pages each list answers, as clients see them (`TaskPage`, not `Page[...]`).

Litestar names a generic component after its full type path; `schema_component_key` gives it
the name a generated client should use. Handlers return plain `Page`s: these are annotations.
"""

from __future__ import annotations

from typing import Annotated

from litestar.openapi.spec import Reference
from litestar.params import KwargDefinition

from dashboard_api.domain.model.analytics_answers import Performance
from dashboard_api.domain.model.conversations import Conversation, Message
from dashboard_api.domain.model.session_analytics import SessionPerformance
from dashboard_api.domain.model.tasks import TaskSummary
from dashboard_api.domain.pagination import Page
from dashboard_api.domain.services.webhooks import WebhookSummary
from dashboard_api.http.schemas.sources import SourceView
from dashboard_api.http.schemas.webhooks import WebhookEventSummary

TaskPage = Annotated[Page[TaskSummary], KwargDefinition(schema_component_key="TaskPage")]
ConversationPage = Annotated[
    Page[Conversation], KwargDefinition(schema_component_key="ConversationPage")
]
MessagePage = Annotated[Page[Message], KwargDefinition(schema_component_key="MessagePage")]
PerformancePage = Annotated[
    Page[Performance], KwargDefinition(schema_component_key="PerformancePage")
]
SessionPerformancePage = Annotated[
    Page[SessionPerformance], KwargDefinition(schema_component_key="SessionPerformancePage")
]
WebhookPage = Annotated[Page[WebhookSummary], KwargDefinition(schema_component_key="WebhookPage")]
WebhookEventPage = Annotated[
    Page[WebhookEventSummary], KwargDefinition(schema_component_key="WebhookEventPage")
]
SourcePage = Annotated[Page[SourceView], KwargDefinition(schema_component_key="SourcePage")]

# `/api/analytics/performance` answers one kind of page or the other. Litestar renders a union
# as `oneOf`, which an empty page (valid as both) would break: declared `anyOf` instead.
EitherPerformancePage = Annotated[
    PerformancePage | SessionPerformancePage,
    KwargDefinition(
        schema_extra={
            "one_of": None,
            "any_of": [
                Reference(ref="#/components/schemas/PerformancePage"),
                Reference(ref="#/components/schemas/SessionPerformancePage"),
            ],
        }
    ),
]
