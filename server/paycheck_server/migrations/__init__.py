"""Alembic migrations of the server's database (applied by ``paycheck-server migrate``)."""
