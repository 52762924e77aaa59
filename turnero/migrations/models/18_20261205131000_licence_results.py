"""The examiner's results of the licence path's steps (`licence_result`): the medical and
psychological evaluation and the practical driving test, one row per cita."""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

_COLUMNS = """
    "appointment_id" INT NOT NULL UNIQUE REFERENCES "appointment" ("id") ON DELETE RESTRICT,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE RESTRICT,
    "step" VARCHAR(16) NOT NULL,
    "document" VARCHAR(20) NOT NULL,
    "category" VARCHAR(2),
    "passed" {boolean} NOT NULL,
    "notes" TEXT NOT NULL DEFAULT '',
    "recorded_at" {timestamp} NOT NULL,
    "user_id" INT REFERENCES "app_user" ("id") ON DELETE SET NULL
);
CREATE INDEX "idx_licence_result_document" ON "licence_result" ("document", "step", "category");"""
SQL = {
    "sqlite": 'CREATE TABLE "licence_result" (\n    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,'
              + _COLUMNS.format(boolean="INT", timestamp="TIMESTAMP"),
    "postgres": 'CREATE TABLE "licence_result" (\n    "id" SERIAL NOT NULL PRIMARY KEY,'
                + _COLUMNS.format(boolean="BOOL", timestamp="TIMESTAMPTZ"),
}
DOWNGRADE = 'DROP TABLE IF EXISTS "licence_result";'


async def upgrade(db: BaseDBAsyncClient) -> str:
    return SQL[db.capabilities.dialect]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
