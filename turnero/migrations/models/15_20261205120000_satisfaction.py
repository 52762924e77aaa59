"""Satisfaction ratings (issue 20): `satisfaction_rating`, one row per finished ticket
(the unique ticket is the rule: a visit is rated once), with the office, service, desk
and operator it was rated for, the score 1–5 and where it came from (page, sms, desk).

ticket also gains an index on (phone, finished_at): a «4» replied by SMS is matched to
the sender's latest finished ticket of the last day without reading every ticket."""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

_COLUMNS = """
    "ticket_id" INT NOT NULL UNIQUE REFERENCES "ticket" ("id") ON DELETE CASCADE,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE CASCADE,
    "service_id" INT NOT NULL REFERENCES "service" ("id") ON DELETE CASCADE,
    "desk_id" INT REFERENCES "desk" ("id") ON DELETE SET NULL,
    "operator_id" INT REFERENCES "app_user" ("id") ON DELETE SET NULL,
    "score" SMALLINT NOT NULL CHECK ("score" BETWEEN 1 AND 5),
    "channel" VARCHAR(8) NOT NULL,
    "created_at" {timestamp} NOT NULL
);
CREATE INDEX "idx_satisfaction_office_created" ON "satisfaction_rating" ("office_id", "created_at");
CREATE INDEX IF NOT EXISTS "idx_ticket_phone_finished" ON "ticket" ("phone", "finished_at");"""
SQL = {
    "sqlite": 'CREATE TABLE "satisfaction_rating" (\n    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,'
              + _COLUMNS.format(timestamp="TIMESTAMP"),
    "postgres": 'CREATE TABLE "satisfaction_rating" (\n    "id" SERIAL NOT NULL PRIMARY KEY,'
                + _COLUMNS.format(timestamp="TIMESTAMPTZ"),
}
DOWNGRADE = 'DROP INDEX IF EXISTS "idx_ticket_phone_finished";\nDROP TABLE IF EXISTS "satisfaction_rating";'


async def upgrade(db: BaseDBAsyncClient) -> str:
    return SQL[db.capabilities.dialect]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
