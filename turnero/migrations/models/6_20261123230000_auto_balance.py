"""Offices gain `auto_balance_minutes`: the wait threshold above which the server moves
a desk by itself (NULL: suggestions only, a supervisor applies them)."""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = 'ALTER TABLE "office" ADD COLUMN "auto_balance_minutes" INT;'
DOWNGRADE = 'ALTER TABLE "office" DROP COLUMN "auto_balance_minutes";'


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE  # the same SQL for SQLite and PostgreSQL


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
