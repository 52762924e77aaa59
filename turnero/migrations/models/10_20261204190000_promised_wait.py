"""Tickets gain `promised_wait`: the wait in minutes a walk-in was told when it was
issued. Against the wait it then had (issued → called) it is how the estimate learns
its own error, and so the range it shows («entre 35 y 50 min», queue/eta_range.py)."""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = 'ALTER TABLE "ticket" ADD COLUMN "promised_wait" INT;'
DOWNGRADE = 'ALTER TABLE "ticket" DROP COLUMN "promised_wait";'


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE  # the same SQL for SQLite and PostgreSQL


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
