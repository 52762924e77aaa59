"""desk_event gains an index on (desk_id, at): the staffing history (queue/staffing.py)
reads an office's desk status changes of recent days through its desks, by time."""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = 'CREATE INDEX IF NOT EXISTS "idx_desk_event_desk_at" ON "desk_event" ("desk_id", "at");'
DOWNGRADE = 'DROP INDEX IF EXISTS "idx_desk_event_desk_at";'


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE  # the same SQL for SQLite and PostgreSQL


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
