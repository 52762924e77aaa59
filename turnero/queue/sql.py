"""Small helpers of the queue's hand-written SQL: the connection in use, and literals
of the code's own constants."""

from __future__ import annotations

from turnero.queue.models import Ticket


def _connection():
    """The connection queries run on now (the transaction's, inside in_transaction)."""
    return Ticket._meta.db


def _sql_text(value: str) -> str:
    """A SQL string literal for one of the code's own constants (enum values)."""
    assert value.isidentifier(), value
    return f"'{value}'"
