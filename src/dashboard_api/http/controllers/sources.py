"""`/api/sources` (knowledge sources and their indexing) and `/api/oauth/status`."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from dashboard_api.domain.clock import utc_now
from dashboard_api.domain.limits import ID_CHARS, NAME_CHARS
from dashboard_api.domain.model.sources import OAuthInstallation, SourceCursor
from dashboard_api.domain.pagination import MAX_PAGE_SIZE, Page, decode_cursor
from dashboard_api.domain.services.sources import OAuthStatusService, SourceService
from dashboard_api.http.pages import SourcePage
from dashboard_api.http.problem_responses import GUARDED, READ_ERRORS, WRITE_ERRORS, errors
from dashboard_api.http.schemas.sources import (
    OAuthInstallationBody,
    OAuthStatusList,
    SourceCreate,
    SourceView,
    SyncReportBody,
)
from dashboard_api.http.strict_body import StrictBody

SourceId = Annotated[str, PathParameter(min_length=1, max_length=ID_CHARS)]
Platform = Annotated[
    str, PathParameter(min_length=1, max_length=NAME_CHARS, pattern=r"^[a-z0-9][a-z0-9_-]*$")
]


class SourceController(Controller):
    path = "/api/sources"
    tags = ["sources"]

    @get(
        "/",
        operation_id="listSources",
        summary="Knowledge sources, newest first, with their latest sync job",
        responses=errors(*READ_ERRORS),
    )
    async def list_sources(
        self,
        source_service: NamedDependency[SourceService],
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    ) -> SourcePage:
        after = decode_cursor(cursor, SourceCursor) if cursor else None
        page = await source_service.list_sources(limit=limit, after=after)
        return Page(items=[SourceView.of(s) for s in page.items], next_cursor=page.next_cursor)

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        operation_id="createSource",
        summary="Register a knowledge source",
        responses=errors(*WRITE_ERRORS, 409),
        dto=StrictBody[SourceCreate],
        return_dto=None,
    )
    async def add_source(
        self, source_service: NamedDependency[SourceService], data: JSONBody[SourceCreate]
    ) -> SourceView:
        return SourceView.of(await source_service.add(data.to_domain()))

    @get(
        "/{source_id:str}",
        operation_id="getSource",
        summary="One knowledge source and its latest sync job",
        responses=errors(*READ_ERRORS, 404),
    )
    async def get_source(
        self, source_service: NamedDependency[SourceService], source_id: SourceId
    ) -> SourceView:
        return SourceView.of(await source_service.get(source_id))

    @delete(
        "/{source_id:str}",
        status_code=HTTP_204_NO_CONTENT,
        operation_id="deleteSource",
        summary="Remove a source",
        responses=errors(*READ_ERRORS, 404, 415),
    )
    async def delete_source(
        self, source_service: NamedDependency[SourceService], source_id: SourceId
    ) -> None:
        await source_service.delete(source_id)

    @post(
        "/{source_id:str}/sync",
        status_code=HTTP_202_ACCEPTED,
        operation_id="requestSourceSync",
        summary="Queue an indexing job for the indexer (or return the one still pending)",
        responses=errors(*READ_ERRORS, 404, 409, 415),
    )
    async def request_sync(
        self, source_service: NamedDependency[SourceService], source_id: SourceId
    ) -> SourceView:
        return SourceView.of(await source_service.request_sync(source_id))

    @put(
        "/{source_id:str}/sync",
        operation_id="reportSourceSync",
        summary="The indexer reports its job: running, succeeded or failed",
        responses=errors(*WRITE_ERRORS, 404, 409),
        dto=StrictBody[SyncReportBody],
        return_dto=None,
    )
    async def report_sync(
        self,
        source_service: NamedDependency[SourceService],
        source_id: SourceId,
        data: JSONBody[SyncReportBody],
    ) -> SourceView:
        return SourceView.of(await source_service.report_sync(source_id, data.to_domain()))


class OAuthController(Controller):
    path = "/api/oauth/status"
    tags = ["oauth"]

    @get(
        "/",
        operation_id="listOAuthStatus",
        summary="Per platform: connected, scopes, installed at, token expiry",
        responses=errors(*GUARDED),
    )
    async def status(self, oauth_service: NamedDependency[OAuthStatusService]) -> OAuthStatusList:
        return OAuthStatusList(items=await oauth_service.status())

    @put(
        "/{platform:str}",
        operation_id="recordOAuthInstallation",
        summary="The OAuth service records an installation (no tokens)",
        responses=errors(*WRITE_ERRORS),
        dto=StrictBody[OAuthInstallationBody],
        return_dto=None,
    )
    async def record(
        self,
        oauth_service: NamedDependency[OAuthStatusService],
        platform: Platform,
        data: JSONBody[OAuthInstallationBody],
    ) -> OAuthInstallation:
        return await oauth_service.record(data.to_domain(platform, utc_now()))
