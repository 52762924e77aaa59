"""Mobile brigades and rotating offices: an office's `kind` ("fixed" or "brigade") and
the brigade's dated stops (`brigade_stop`: municipality, address, first and last day,
the hours of each day). A brigade is open only on the days of its stops."""

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
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE CASCADE
);
CREATE INDEX "idx_brigade_stop_office_ends" ON "brigade_stop" ("office_id", "ends_on");"""
_KIND = 'ALTER TABLE "office" ADD COLUMN "kind" VARCHAR(16) NOT NULL DEFAULT \'fixed\';\n'
SQL = {
    "sqlite": _KIND + 'CREATE TABLE "brigade_stop" (\n    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,'
              + _COLUMNS.format(json="JSON"),
    "postgres": _KIND + 'CREATE TABLE "brigade_stop" (\n    "id" SERIAL NOT NULL PRIMARY KEY,'
                + _COLUMNS.format(json="JSONB"),
}
DOWNGRADE = 'DROP TABLE IF EXISTS "brigade_stop";\nALTER TABLE "office" DROP COLUMN "kind";'


async def upgrade(db: BaseDBAsyncClient) -> str:
    return SQL[db.capabilities.dialect]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
