"""Tortoise's SQLite client, with write transactions that take the write lock up front.

Tortoise begins SQLite transactions with a deferred BEGIN. Two processes sharing one
file could then both read and later fail to upgrade to a write lock; BEGIN IMMEDIATE
makes the second wait (busy_timeout) instead, which serialises call-next and counters.
"""

from __future__ import annotations

import sqlite3

from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.exceptions import TransactionManagementError


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    async def begin(self) -> None:
        try:
            # (The connection is in autocommit mode, so there is normally nothing to
            # commit: skip that thread hop unless a transaction is somehow open.)
            if self._connection.in_transaction:
                await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise TransactionManagementError(exc) from exc


class ImmediateSqliteClient(SqliteClient):
    def _in_transaction(self):
        return SqliteTransactionContext(ImmediateTransactionWrapper(self), self._lock)


client_class = ImmediateSqliteClient
