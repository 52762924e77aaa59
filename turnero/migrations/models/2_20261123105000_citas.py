"""Citas: booking rules, closures, slots, appointments, their events, idempotency keys.

Two database rules carry the concurrency guarantees (docs/architecture.md, concurrency):
- `ck_slot_places`: a slot never holds more places than its capacity (the booking
  UPDATE is conditional; the CHECK is the net under it);
- `uniq_appointment_active_document`: one active cita (booked or checked in) per
  document and service — a partial unique index, supported by SQLite and PostgreSQL.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

SQL = {
    "sqlite": """
CREATE TABLE "booking_rule" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "slot_minutes" INT NOT NULL,
    "capacity" INT,
    "window_days" INT NOT NULL,
    "min_notice_minutes" INT NOT NULL,
    "release_time" VARCHAR(5),
    "cancel_cutoff_minutes" INT NOT NULL,
    "hours" JSON,
    "active" INT NOT NULL,
    "materialised_on" DATE,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE CASCADE,
    "service_id" INT NOT NULL REFERENCES "service" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_booking_rul_office__6a1e0f" UNIQUE ("office_id", "service_id")
) /* How citas of one service are booked at one office (times in the office's zone). */;
CREATE TABLE "office_closure" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "day" DATE NOT NULL,
    "reason" VARCHAR(120) NOT NULL,
    "office_id" INT REFERENCES "office" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_office_clos_office__dcd359" UNIQUE ("office_id", "day")
) /* A day an office (or every office, when `office` is null) does not open, beyond */;
CREATE TABLE "slot" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "start" TIMESTAMP NOT NULL,
    "end" TIMESTAMP NOT NULL,
    "day" DATE NOT NULL,
    "capacity" INT NOT NULL,
    "booked" INT NOT NULL,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE CASCADE,
    "service_id" INT NOT NULL REFERENCES "service" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_slot_office__247d0b" UNIQUE ("office_id", "service_id", "start"),
    CONSTRAINT "ck_slot_places" CHECK ("booked" >= 0 AND "booked" <= "capacity")
);
CREATE TABLE "appointment" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "public_id" VARCHAR(32) NOT NULL UNIQUE,
    "code" VARCHAR(12) NOT NULL UNIQUE,
    "start" TIMESTAMP NOT NULL,
    "end" TIMESTAMP NOT NULL,
    "status" VARCHAR(16) NOT NULL /* BOOKED: booked\\nCHECKED_IN: checked_in\\nDONE: done\\nCANCELLED: cancelled\\nNO_SHOW: no_show */,
    "document_type" VARCHAR(16) NOT NULL /* CI: ci\\nCIE: cie\\nPASSPORT: passport */,
    "document_number" VARCHAR(20) NOT NULL,
    "document_complement" VARCHAR(2),
    "document_issued_in" VARCHAR(2),
    "document_key" VARCHAR(40) NOT NULL,
    "name" VARCHAR(120) NOT NULL,
    "phone" VARCHAR(20),
    "party_size" INT NOT NULL,
    "category" VARCHAR(2),
    "created_at" TIMESTAMP NOT NULL,
    "checked_in_at" TIMESTAMP,
    "cancelled_at" TIMESTAMP,
    "reschedule_count" INT NOT NULL,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE RESTRICT,
    "service_id" INT NOT NULL REFERENCES "service" ("id") ON DELETE RESTRICT,
    "slot_id" INT NOT NULL REFERENCES "slot" ("id") ON DELETE RESTRICT,
    "ticket_id" INT REFERENCES "ticket" ("id") ON DELETE SET NULL
);
CREATE INDEX "idx_appointment_office__13fa08" ON "appointment" ("office_id", "status", "start");
CREATE INDEX "idx_appointment_status_c8372b" ON "appointment" ("status", "start");
CREATE INDEX "idx_appointment_documen_3a735a" ON "appointment" ("document_number", "status");
CREATE TABLE "appointment_event" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "kind" VARCHAR(24) NOT NULL,
    "at" TIMESTAMP NOT NULL,
    "data" JSON NOT NULL,
    "appointment_id" INT NOT NULL REFERENCES "appointment" ("id") ON DELETE CASCADE,
    "user_id" INT REFERENCES "app_user" ("id") ON DELETE SET NULL
) /* Audit trail: one row per state change, written in the same transaction. */;
CREATE TABLE "idempotency_key" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "key" VARCHAR(128) NOT NULL UNIQUE,
    "fingerprint" VARCHAR(64) NOT NULL,
    "status_code" INT NOT NULL,
    "response" JSON NOT NULL,
    "created_at" TIMESTAMP NOT NULL
) /* The first result of a booking made with an `Idempotency-Key` header. */;
CREATE INDEX "idx_idempotency_created_98dcfd" ON "idempotency_key" ("created_at");

CREATE UNIQUE INDEX "uniq_appointment_active_document" ON "appointment" ("service_id", "document_key")
    WHERE "status" IN ('booked', 'checked_in');
CREATE INDEX "idx_appointment_event_appointment" ON "appointment_event" ("appointment_id");
CREATE INDEX "idx_slot_service_start" ON "slot" ("service_id", "start");
""",
    "postgres": """
CREATE TABLE "booking_rule" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "slot_minutes" INT NOT NULL,
    "capacity" INT,
    "window_days" INT NOT NULL,
    "min_notice_minutes" INT NOT NULL,
    "release_time" VARCHAR(5),
    "cancel_cutoff_minutes" INT NOT NULL,
    "hours" JSONB,
    "active" BOOL NOT NULL,
    "materialised_on" DATE,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE CASCADE,
    "service_id" INT NOT NULL REFERENCES "service" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_booking_rul_office__6a1e0f" UNIQUE ("office_id", "service_id")
);
COMMENT ON TABLE "booking_rule" IS 'How citas of one service are booked at one office (times in the office''s zone).';
CREATE TABLE "office_closure" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "day" DATE NOT NULL,
    "reason" VARCHAR(120) NOT NULL,
    "office_id" INT REFERENCES "office" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_office_clos_office__dcd359" UNIQUE ("office_id", "day")
);
COMMENT ON TABLE "office_closure" IS 'A day an office (or every office, when `office` is null) does not open, beyond';
CREATE TABLE "slot" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "start" TIMESTAMPTZ NOT NULL,
    "end" TIMESTAMPTZ NOT NULL,
    "day" DATE NOT NULL,
    "capacity" INT NOT NULL,
    "booked" INT NOT NULL,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE CASCADE,
    "service_id" INT NOT NULL REFERENCES "service" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_slot_office__247d0b" UNIQUE ("office_id", "service_id", "start"),
    CONSTRAINT "ck_slot_places" CHECK ("booked" >= 0 AND "booked" <= "capacity")
);
CREATE TABLE "appointment" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "public_id" VARCHAR(32) NOT NULL UNIQUE,
    "code" VARCHAR(12) NOT NULL UNIQUE,
    "start" TIMESTAMPTZ NOT NULL,
    "end" TIMESTAMPTZ NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "document_type" VARCHAR(16) NOT NULL,
    "document_number" VARCHAR(20) NOT NULL,
    "document_complement" VARCHAR(2),
    "document_issued_in" VARCHAR(2),
    "document_key" VARCHAR(40) NOT NULL,
    "name" VARCHAR(120) NOT NULL,
    "phone" VARCHAR(20),
    "party_size" INT NOT NULL,
    "category" VARCHAR(2),
    "created_at" TIMESTAMPTZ NOT NULL,
    "checked_in_at" TIMESTAMPTZ,
    "cancelled_at" TIMESTAMPTZ,
    "reschedule_count" INT NOT NULL,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE RESTRICT,
    "service_id" INT NOT NULL REFERENCES "service" ("id") ON DELETE RESTRICT,
    "slot_id" INT NOT NULL REFERENCES "slot" ("id") ON DELETE RESTRICT,
    "ticket_id" INT REFERENCES "ticket" ("id") ON DELETE SET NULL
);
CREATE INDEX "idx_appointment_office__13fa08" ON "appointment" ("office_id", "status", "start");
CREATE INDEX "idx_appointment_status_c8372b" ON "appointment" ("status", "start");
CREATE INDEX "idx_appointment_documen_3a735a" ON "appointment" ("document_number", "status");
CREATE TABLE "appointment_event" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "kind" VARCHAR(24) NOT NULL,
    "at" TIMESTAMPTZ NOT NULL,
    "data" JSONB NOT NULL,
    "appointment_id" INT NOT NULL REFERENCES "appointment" ("id") ON DELETE CASCADE,
    "user_id" INT REFERENCES "app_user" ("id") ON DELETE SET NULL
);
COMMENT ON TABLE "appointment_event" IS 'Audit trail: one row per state change, written in the same transaction.';
CREATE TABLE "idempotency_key" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "key" VARCHAR(128) NOT NULL UNIQUE,
    "fingerprint" VARCHAR(64) NOT NULL,
    "status_code" INT NOT NULL,
    "response" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX "idx_idempotency_created_98dcfd" ON "idempotency_key" ("created_at");
COMMENT ON TABLE "idempotency_key" IS 'The first result of a booking made with an `Idempotency-Key` header.';

CREATE UNIQUE INDEX "uniq_appointment_active_document" ON "appointment" ("service_id", "document_key")
    WHERE "status" IN ('booked', 'checked_in');
CREATE INDEX "idx_appointment_event_appointment" ON "appointment_event" ("appointment_id");
CREATE INDEX "idx_slot_service_start" ON "slot" ("service_id", "start");
""",
}

DOWNGRADE = """
DROP TABLE IF EXISTS "idempotency_key";
DROP TABLE IF EXISTS "appointment_event";
DROP TABLE IF EXISTS "appointment";
DROP TABLE IF EXISTS "slot";
DROP TABLE IF EXISTS "office_closure";
DROP TABLE IF EXISTS "booking_rule";
"""


async def upgrade(db: BaseDBAsyncClient) -> str:
    return SQL[db.capabilities.dialect]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
