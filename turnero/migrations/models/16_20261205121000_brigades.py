"""Mobile brigades and rotating offices: an office's `kind` ("fixed" or "brigade") and
the brigade's dated stops (`brigade_stop`: municipality, address, first and last day,
the hours of each day; `closed` with the `institution` for a campaign in a prison or a
school) and the people on a closed stop's list (`brigade_invitee`). A brigade is open
only on the days of its stops."""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

_COLUMNS = """
    "municipality" VARCHAR(80) NOT NULL,
    "department" VARCHAR(40) NOT NULL DEFAULT '',
    "address" VARCHAR(200) NOT NULL DEFAULT '',
    "starts_on" DATE NOT NULL,
    "ends_on" DATE NOT NULL,
    "hours" {json} NOT NULL,
    "note" VARCHAR(200) NOT NULL DEFAULT '',
    "closed" {bool} NOT NULL DEFAULT {false},
    "institution" VARCHAR(120) NOT NULL DEFAULT '',
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE CASCADE
);
CREATE INDEX "idx_brigade_stop_office_ends" ON "brigade_stop" ("office_id", "ends_on");
CREATE TABLE "brigade_invitee" (
    "id" {serial},
    "full_name" VARCHAR(120) NOT NULL,
    "document_key" VARCHAR(40) NOT NULL,
    "stop_id" INT NOT NULL REFERENCES "brigade_stop" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_brigade_invitee_stop_document" UNIQUE ("stop_id", "document_key")
);"""
_KIND = 'ALTER TABLE "office" ADD COLUMN "kind" VARCHAR(16) NOT NULL DEFAULT \'fixed\';\n'
SQL = {
    "sqlite": _KIND + 'CREATE TABLE "brigade_stop" (\n    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,'
              + _COLUMNS.format(json="JSON", bool="INT", false="0",
                                serial="INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL"),
    "postgres": _KIND + 'CREATE TABLE "brigade_stop" (\n    "id" SERIAL NOT NULL PRIMARY KEY,'
                + _COLUMNS.format(json="JSONB", bool="BOOL", false="FALSE", serial="SERIAL NOT NULL PRIMARY KEY"),
}
DOWNGRADE = ('DROP TABLE IF EXISTS "brigade_invitee";\nDROP TABLE IF EXISTS "brigade_stop";\n'
             'ALTER TABLE "office" DROP COLUMN "kind";')


async def upgrade(db: BaseDBAsyncClient) -> str:
    return SQL[db.capabilities.dialect]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
