"""Exports walk a list through its keyset pages: memory stays one page, whatever the total."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from dashboard_api.domain.pagination import Page

T = TypeVar("T")

# Rows per keyset page of an export: large enough that the per-query cost is spread thin,
# small enough that a page in memory stays well under a megabyte of list rows.
EXPORT_PAGE_SIZE = 500

PageAfter = Callable[[str | None], Awaitable[Page[T]]]


async def first_page(page_after: PageAfter[T]) -> Page[T]:
    """Read the first page before a response starts, so that a failing store is still an
    error status rather than a stream cut short."""
    return await page_after(None)


async def every_row(first: Page[T], page_after: PageAfter[T]) -> AsyncIterator[list[T]]:
    """The rows of `first` and of every page after it, one page at a time."""
    page = first
    while True:
        if page.items:
            yield page.items
        if page.next_cursor is None:
            return
        page = await page_after(page.next_cursor)
