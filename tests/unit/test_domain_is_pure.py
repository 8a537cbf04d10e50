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


# The outer rings of this project: the domain is what they are built on, never the reverse.
FORBIDDEN_HERE = ("dashboard_api.http", "dashboard_api.adapters", "dashboard_api.bootstrap")


def _imported(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def _imported_roots(path: Path) -> set[str]:
    return {module.split(".")[0] for module in _imported(path)}


def test_the_domain_imports_no_framework_or_driver() -> None:
    domain = Path(dashboard_api.domain.__file__).parent
    offenders = {
        str(path.relative_to(domain)): sorted(_imported_roots(path) & FORBIDDEN)
        for path in domain.rglob("*.py")
        if _imported_roots(path) & FORBIDDEN
    }
    assert offenders == {}


def test_the_domain_imports_no_outer_layer_of_this_project() -> None:
    domain = Path(dashboard_api.domain.__file__).parent
    offenders = {
        str(path.relative_to(domain)): sorted(
            module for module in _imported(path) if module.startswith(FORBIDDEN_HERE)
        )
        for path in domain.rglob("*.py")
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}


def test_the_model_does_no_io_and_knows_no_port() -> None:
    """Values and pure rules only: no coroutine, no port, no use case."""
    model = Path(dashboard_api.domain.__file__).parent / "model"
    offenders: dict[str, list[str]] = {}
    for path in model.rglob("*.py"):
        tree = ast.parse(path.read_text())
        found = [
            f"async def {node.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.AsyncFunctionDef)
        ]
        found += sorted(
            module
            for module in _imported(path)
            if module.startswith(("dashboard_api.domain.ports", "dashboard_api.domain.services"))
        )
        if found:
            offenders[str(path.relative_to(model))] = found
    assert offenders == {}
