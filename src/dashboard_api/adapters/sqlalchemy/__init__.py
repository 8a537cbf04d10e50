"""SQLAlchemy adapters over Advanced Alchemy types: PostgreSQL (asyncpg) and SQLite (aiosqlite)."""
