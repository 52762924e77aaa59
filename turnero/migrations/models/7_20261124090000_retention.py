"""Retention (turnero/admin/retention.py): daily report roll-ups, job leases, and the
indexes that let old detail be found and deleted without scanning the live tables.

- `report_day`: one office, service and local day of figures whose detail is gone
  (admin/models.py: ReportDay); `job_lease`: who runs a once-at-a-time job (core).
- ticket (office_id, issued_at): the old finished tickets of an office, and reports.
- Deleting a row makes the database look up the rows pointing at it (ON DELETE CASCADE /
  SET NULL / RESTRICT); without an index each lookup reads the whole table: ticket_event
  and the hop chain (ticket.previous_id) for tickets, outbound_message.ticket_id and
  appointment.ticket_id for tickets, appointment.slot_id for slots. The nullable links
  are partial indexes: only the rows that do point somewhere are indexed.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

INDEXES = """
CREATE INDEX IF NOT EXISTS "idx_ticket_office_issued" ON "ticket" ("office_id", "issued_at");
CREATE INDEX IF NOT EXISTS "idx_ticket_previous" ON "ticket" ("previous_id") WHERE "previous_id" IS NOT NULL;
CREATE INDEX IF NOT EXISTS "idx_ticket_event_ticket" ON "ticket_event" ("ticket_id");
CREATE INDEX IF NOT EXISTS "idx_appointment_slot" ON "appointment" ("slot_id");
CREATE INDEX IF NOT EXISTS "idx_appointment_ticket" ON "appointment" ("ticket_id") WHERE "ticket_id" IS NOT NULL;
CREATE INDEX IF NOT EXISTS "idx_outbound_message_ticket" ON "outbound_message" ("ticket_id")
    WHERE "ticket_id" IS NOT NULL;
"""

REPORT_DAY_COLUMNS = """
    "day" DATE NOT NULL,
    "visits" INT NOT NULL DEFAULT 0,
    "tickets" INT NOT NULL DEFAULT 0,
    "done" INT NOT NULL DEFAULT 0,
    "no_show" INT NOT NULL DEFAULT 0,
    "cancelled" INT NOT NULL DEFAULT 0,
    "transferred" INT NOT NULL DEFAULT 0,
    "wait_count" INT NOT NULL DEFAULT 0,
    "wait_mean" {real},
    "wait_p50" {real},
    "wait_p90" {real},
    "service_count" INT NOT NULL DEFAULT 0,
    "service_mean" {real},
    "service_p50" {real},
    "service_p90" {real},
    "slots" INT NOT NULL DEFAULT 0,
    "slot_capacity" INT NOT NULL DEFAULT 0,
    "slot_booked" INT NOT NULL DEFAULT 0,
    "citas_done" INT NOT NULL DEFAULT 0,
    "citas_no_show" INT NOT NULL DEFAULT 0,
    "citas_cancelled" INT NOT NULL DEFAULT 0,
    "detail" {json} NOT NULL,
    "revision" INT NOT NULL DEFAULT 1,
    "updated_at" {timestamp} NOT NULL,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE RESTRICT,
    "service_id" INT NOT NULL REFERENCES "service" ("id") ON DELETE RESTRICT,
    CONSTRAINT "uid_report_day_office_day_service" UNIQUE ("office_id", "day", "service_id")"""

SQL = {
    "sqlite": f"""
CREATE TABLE IF NOT EXISTS "job_lease" (
    "name" VARCHAR(64) NOT NULL PRIMARY KEY,
    "holder" VARCHAR(96),
    "until" TIMESTAMP
);
CREATE TABLE IF NOT EXISTS "report_day" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,{REPORT_DAY_COLUMNS.format(real="REAL", json="JSON", timestamp="TIMESTAMP")}
);
{INDEXES}""",
    "postgres": f"""
CREATE TABLE IF NOT EXISTS "job_lease" (
    "name" VARCHAR(64) NOT NULL PRIMARY KEY,
    "holder" VARCHAR(96),
    "until" TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS "report_day" (
    "id" SERIAL NOT NULL PRIMARY KEY,{REPORT_DAY_COLUMNS.format(real="DOUBLE PRECISION", json="JSONB", timestamp="TIMESTAMPTZ")}
);
COMMENT ON TABLE "report_day" IS 'Report figures of one office, service and day whose detail retention deleted.';
{INDEXES}""",
}

DOWNGRADE = """
DROP INDEX IF EXISTS "idx_outbound_message_ticket";
DROP INDEX IF EXISTS "idx_appointment_ticket";
DROP INDEX IF EXISTS "idx_appointment_slot";
DROP INDEX IF EXISTS "idx_ticket_event_ticket";
DROP INDEX IF EXISTS "idx_ticket_previous";
DROP INDEX IF EXISTS "idx_ticket_office_issued";
DROP TABLE IF EXISTS "report_day";
DROP TABLE IF EXISTS "job_lease";
"""


async def upgrade(db: BaseDBAsyncClient) -> str:
    return SQL[db.capabilities.dialect]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
