"""The queue index gains service_id and id: (office, status, lane, service, arrived_at, id).

Call-next reads the head of each line a desk serves. With the service and the id in the
index, that is the first index entry of the line, already in (arrival, id) order; the
former index (office, status, lane, arrived_at) made each head read and sort a batch of
rows of every service in the lane.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = """
DROP INDEX IF EXISTS "idx_ticket_office__a80102";
CREATE INDEX IF NOT EXISTS "idx_ticket_office__df75e2"
    ON "ticket" ("office_id", "status", "lane", "service_id", "arrived_at", "id");
"""

DOWNGRADE = """
DROP INDEX IF EXISTS "idx_ticket_office__df75e2";
CREATE INDEX IF NOT EXISTS "idx_ticket_office__a80102" ON "ticket" ("office_id", "status", "lane", "arrived_at");
"""


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE  # the same SQL for SQLite and PostgreSQL


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
