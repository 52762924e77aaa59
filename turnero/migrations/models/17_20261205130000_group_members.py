"""Groups (issue 20): the minors a tutor brings (`group_member`: name, document or
birth-certificate number, age), linked to the tutor's cita and/or ticket — a ticket
issued on check-in of a cita carries the cita's members. `service_id` and `day` (the
cita's or ticket's local day) serve the minors' anti-hoarding check."""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

_COLUMNS = """
    "position" INT NOT NULL DEFAULT 0,
    "name" VARCHAR(120) NOT NULL,
    "document" VARCHAR(20) NOT NULL,
    "document_type" VARCHAR(20) NOT NULL,
    "age" INT NOT NULL,
    "day" DATE NOT NULL,
    "service_id" INT NOT NULL REFERENCES "service" ("id") ON DELETE CASCADE,
    "appointment_id" INT REFERENCES "appointment" ("id") ON DELETE CASCADE,
    "ticket_id" INT REFERENCES "ticket" ("id") ON DELETE SET NULL
);
CREATE INDEX "idx_group_member_appointment" ON "group_member" ("appointment_id");
CREATE INDEX "idx_group_member_ticket" ON "group_member" ("ticket_id");
CREATE INDEX "idx_group_member_document" ON "group_member" ("service_id", "day", "document");"""
SQL = {
    "sqlite": 'CREATE TABLE "group_member" (\n    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,' + _COLUMNS,
    "postgres": 'CREATE TABLE "group_member" (\n    "id" SERIAL NOT NULL PRIMARY KEY,' + _COLUMNS,
}
DOWNGRADE = 'DROP TABLE IF EXISTS "group_member";'


async def upgrade(db: BaseDBAsyncClient) -> str:
    return SQL[db.capabilities.dialect]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
