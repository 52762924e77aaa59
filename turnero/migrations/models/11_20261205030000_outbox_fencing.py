"""Outbox rows remember an attempt whose outcome is unknown (a crash or a timeout after
the request left): `unsure_since` is when the first such attempt began, and
`recheck_from` carries it into the next claim, which asks the provider whether the
message went out before sending it again (notifications/dispatcher.py)."""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

SQL = {
    "sqlite": (
        'ALTER TABLE "outbound_message" ADD COLUMN "unsure_since" TIMESTAMP;\n'
        'ALTER TABLE "outbound_message" ADD COLUMN "recheck_from" TIMESTAMP;'
    ),
    "postgres": (
        'ALTER TABLE "outbound_message" ADD COLUMN "unsure_since" TIMESTAMPTZ;\n'
        'ALTER TABLE "outbound_message" ADD COLUMN "recheck_from" TIMESTAMPTZ;'
    ),
}
DOWNGRADE = (
    'ALTER TABLE "outbound_message" DROP COLUMN "recheck_from";\n'
    'ALTER TABLE "outbound_message" DROP COLUMN "unsure_since";'
)


async def upgrade(db: BaseDBAsyncClient) -> str:
    return SQL[db.capabilities.dialect]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
