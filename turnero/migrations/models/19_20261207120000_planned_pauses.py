"""The office's roster of planned pauses (`planned_pause`): a desk's refrigerio or
almuerzo on a day, from a time for some minutes, which the wait estimate plays."""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

_COLUMNS = """
    "day" DATE NOT NULL,
    "starts_at" {timestamp} NOT NULL,
    "minutes" INT NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "desk_id" INT NOT NULL REFERENCES "desk" ("id") ON DELETE CASCADE
);
CREATE INDEX "idx_planned_pause_day_desk" ON "planned_pause" ("day", "desk_id");"""
SQL = {
    "sqlite": 'CREATE TABLE "planned_pause" (\n    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,'
              + _COLUMNS.format(timestamp="TIMESTAMP"),
    "postgres": 'CREATE TABLE "planned_pause" (\n    "id" SERIAL NOT NULL PRIMARY KEY,'
                + _COLUMNS.format(timestamp="TIMESTAMPTZ"),
}
DOWNGRADE = 'DROP TABLE IF EXISTS "planned_pause";'


async def upgrade(db: BaseDBAsyncClient) -> str:
    return SQL[db.capabilities.dialect]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
