"""Implementations of the domain's ports: memory, SQLAlchemy and Redis."""
