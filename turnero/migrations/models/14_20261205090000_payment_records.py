"""Payment references recorded at descarte (`payment_record`): one row per bank slip or
UNIMOVIL transaction, its reference unique so that one payment pays for one trámite."""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

_COLUMNS = """
    "reference" VARCHAR(24) NOT NULL UNIQUE,
    "channel" VARCHAR(16) NOT NULL,
    "ticket_id" INT NOT NULL REFERENCES "ticket" ("id") ON DELETE CASCADE,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE CASCADE,
    "recorded_at" {timestamp} NOT NULL,
    "user_id" INT REFERENCES "app_user" ("id") ON DELETE SET NULL
);
CREATE INDEX "idx_payment_record_ticket" ON "payment_record" ("ticket_id");"""
SQL = {
    "sqlite": 'CREATE TABLE "payment_record" (\n    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,'
              + _COLUMNS.format(timestamp="TIMESTAMP"),
    "postgres": 'CREATE TABLE "payment_record" (\n    "id" SERIAL NOT NULL PRIMARY KEY,'
                + _COLUMNS.format(timestamp="TIMESTAMPTZ"),
}
DOWNGRADE = 'DROP TABLE IF EXISTS "payment_record";'


async def upgrade(db: BaseDBAsyncClient) -> str:
    return SQL[db.capabilities.dialect]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
