"""The domain imports no framework or driver: it can be read and tested on its own."""

from __future__ import annotations

import ast
from pathlib import Path

import dashboard_api.domain

FORBIDDEN = {
    "litestar",
    "sqlalchemy",
    "advanced_alchemy",
    "redis",
    "asyncpg",
    "aiosqlite",
    "uvicorn",
    "alembic",
    "structlog",
}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_domain_imports_no_framework_or_driver() -> None:
    domain = Path(dashboard_api.domain.__file__).parent
    offenders = {
        str(path.relative_to(domain)): sorted(_imported_roots(path) & FORBIDDEN)
        for path in domain.rglob("*.py")
        if _imported_roots(path) & FORBIDDEN
    }
    assert offenders == {}
