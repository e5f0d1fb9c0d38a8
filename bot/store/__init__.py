"""Persistence: sqlmodel tables, the async engine, migrations and the unit of work."""
