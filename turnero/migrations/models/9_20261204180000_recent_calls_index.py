"""ticket gains an index on (office_id, day, called_at): the board's latest calls
(displays/service.recent_calls) read the last few entries of it, instead of sorting
every ticket of the office's day — which grows with the line at the morning peak."""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = 'CREATE INDEX IF NOT EXISTS "idx_ticket_office_day_called" ON "ticket" ("office_id", "day", "called_at");'
DOWNGRADE = 'DROP INDEX IF EXISTS "idx_ticket_office_day_called";'


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE  # the same SQL for SQLite and PostgreSQL


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
