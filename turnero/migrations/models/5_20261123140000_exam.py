"""Exam room: rooms, seats, question bank, sessions, attempts, answers, audit events.

Frozen SQL per dialect. A session is the exam side of a scheduler slot (slot_id), an
attempt comes from a cita (appointment_id). The partial unique indexes are the seat rule
itself: an active attempt holds its seat alone within a session, and a candidate (and a
cita) sits once per session.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

# The seat rule and the look-up indexes: the same SQL on both dialects.
RULES = """
CREATE INDEX "idx_exam_attempt_session_status" ON "exam_attempt" ("session_id", "status");
CREATE UNIQUE INDEX "uidx_exam_attempt_session_seat" ON "exam_attempt" ("session_id", "seat_id")
    WHERE "seat_id" IS NOT NULL AND "status" IN ('assigned', 'in_progress', 'finished');
CREATE UNIQUE INDEX "uidx_exam_attempt_session_document" ON "exam_attempt" ("session_id", "document")
    WHERE "status" <> 'cancelled';
CREATE UNIQUE INDEX "uidx_exam_attempt_appointment" ON "exam_attempt" ("appointment_id")
    WHERE "status" <> 'cancelled';
CREATE INDEX "idx_exam_event_attempt" ON "exam_event" ("attempt_id");
CREATE INDEX "idx_exam_answer_question" ON "exam_answer" ("question_id");
"""

SQL = {
    "sqlite": """
CREATE TABLE "exam_room" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "code" VARCHAR(32) NOT NULL,
    "name" VARCHAR(120) NOT NULL,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_exam_room_office__f89a75" UNIQUE ("office_id", "code")
);
CREATE TABLE "exam_session" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "starts_at" TIMESTAMP NOT NULL,
    "ends_at" TIMESTAMP NOT NULL,
    "slot_id" INT NOT NULL UNIQUE REFERENCES "slot" ("id") ON DELETE CASCADE,
    "opened_at" TIMESTAMP,
    "created_at" TIMESTAMP NOT NULL,
    "room_id" INT NOT NULL REFERENCES "exam_room" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_exam_sessio_room_id_f24757" UNIQUE ("room_id", "starts_at")
);
CREATE TABLE "exam_question" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "code" VARCHAR(32) NOT NULL UNIQUE,
    "categories" VARCHAR(16) NOT NULL,
    "text" TEXT NOT NULL,
    "choices" JSON NOT NULL,
    "correct" INT NOT NULL,
    "explanation" TEXT NOT NULL,
    "active" INT NOT NULL
);
CREATE TABLE "exam_seat" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "number" INT NOT NULL,
    "in_service" INT NOT NULL,
    "token" VARCHAR(48) NOT NULL UNIQUE,
    "room_id" INT NOT NULL REFERENCES "exam_room" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_exam_seat_room_id_ab7d1d" UNIQUE ("room_id", "number")
);
CREATE TABLE "exam_attempt" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "public_id" VARCHAR(24) NOT NULL UNIQUE,
    "appointment_id" INT NOT NULL REFERENCES "appointment" ("id") ON DELETE RESTRICT,
    "booking_ref" VARCHAR(32) NOT NULL,
    "document" VARCHAR(20) NOT NULL,
    "name" VARCHAR(120) NOT NULL,
    "phone" VARCHAR(20),
    "category" VARCHAR(1) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "seed" BIGINT NOT NULL,
    "question_ids" JSON NOT NULL,
    "position" INT NOT NULL,
    "checked_in_at" TIMESTAMP NOT NULL,
    "started_at" TIMESTAMP,
    "deadline" TIMESTAMP,
    "remaining_seconds" INT,
    "finished_at" TIMESTAMP,
    "correct_count" INT,
    "total" INT,
    "score_percent" REAL,
    "passed" INT,
    "seat_id" INT REFERENCES "exam_seat" ("id") ON DELETE RESTRICT,
    "session_id" INT NOT NULL REFERENCES "exam_session" ("id") ON DELETE RESTRICT
);
CREATE INDEX "idx_exam_attemp_documen_a3a00d" ON "exam_attempt" ("document", "category", "status");
CREATE TABLE "exam_answer" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "choice" INT NOT NULL,
    "answered_at" TIMESTAMP NOT NULL,
    "attempt_id" INT NOT NULL REFERENCES "exam_attempt" ("id") ON DELETE CASCADE,
    "question_id" INT NOT NULL REFERENCES "exam_question" ("id") ON DELETE RESTRICT,
    CONSTRAINT "uid_exam_answer_attempt_c472c4" UNIQUE ("attempt_id", "question_id")
);
CREATE TABLE "exam_event" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "kind" VARCHAR(24) NOT NULL,
    "at" TIMESTAMP NOT NULL,
    "data" JSON NOT NULL,
    "attempt_id" INT REFERENCES "exam_attempt" ("id") ON DELETE CASCADE,
    "seat_id" INT REFERENCES "exam_seat" ("id") ON DELETE SET NULL,
    "user_id" INT REFERENCES "app_user" ("id") ON DELETE SET NULL
);
""",
    "postgres": """
CREATE TABLE "exam_room" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "code" VARCHAR(32) NOT NULL,
    "name" VARCHAR(120) NOT NULL,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_exam_room_office__f89a75" UNIQUE ("office_id", "code")
);
CREATE TABLE "exam_session" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "starts_at" TIMESTAMPTZ NOT NULL,
    "ends_at" TIMESTAMPTZ NOT NULL,
    "slot_id" INT NOT NULL UNIQUE REFERENCES "slot" ("id") ON DELETE CASCADE,
    "opened_at" TIMESTAMPTZ,
    "created_at" TIMESTAMPTZ NOT NULL,
    "room_id" INT NOT NULL REFERENCES "exam_room" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_exam_sessio_room_id_f24757" UNIQUE ("room_id", "starts_at")
);
CREATE TABLE "exam_question" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "code" VARCHAR(32) NOT NULL UNIQUE,
    "categories" VARCHAR(16) NOT NULL,
    "text" TEXT NOT NULL,
    "choices" JSONB NOT NULL,
    "correct" INT NOT NULL,
    "explanation" TEXT NOT NULL,
    "active" BOOL NOT NULL
);
CREATE TABLE "exam_seat" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "number" INT NOT NULL,
    "in_service" BOOL NOT NULL,
    "token" VARCHAR(48) NOT NULL UNIQUE,
    "room_id" INT NOT NULL REFERENCES "exam_room" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_exam_seat_room_id_ab7d1d" UNIQUE ("room_id", "number")
);
CREATE TABLE "exam_attempt" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "public_id" VARCHAR(24) NOT NULL UNIQUE,
    "appointment_id" INT NOT NULL REFERENCES "appointment" ("id") ON DELETE RESTRICT,
    "booking_ref" VARCHAR(32) NOT NULL,
    "document" VARCHAR(20) NOT NULL,
    "name" VARCHAR(120) NOT NULL,
    "phone" VARCHAR(20),
    "category" VARCHAR(1) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "seed" BIGINT NOT NULL,
    "question_ids" JSONB NOT NULL,
    "position" INT NOT NULL,
    "checked_in_at" TIMESTAMPTZ NOT NULL,
    "started_at" TIMESTAMPTZ,
    "deadline" TIMESTAMPTZ,
    "remaining_seconds" INT,
    "finished_at" TIMESTAMPTZ,
    "correct_count" INT,
    "total" INT,
    "score_percent" DOUBLE PRECISION,
    "passed" BOOL,
    "seat_id" INT REFERENCES "exam_seat" ("id") ON DELETE RESTRICT,
    "session_id" INT NOT NULL REFERENCES "exam_session" ("id") ON DELETE RESTRICT
);
CREATE INDEX "idx_exam_attemp_documen_a3a00d" ON "exam_attempt" ("document", "category", "status");
CREATE TABLE "exam_answer" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "choice" INT NOT NULL,
    "answered_at" TIMESTAMPTZ NOT NULL,
    "attempt_id" INT NOT NULL REFERENCES "exam_attempt" ("id") ON DELETE CASCADE,
    "question_id" INT NOT NULL REFERENCES "exam_question" ("id") ON DELETE RESTRICT,
    CONSTRAINT "uid_exam_answer_attempt_c472c4" UNIQUE ("attempt_id", "question_id")
);
CREATE TABLE "exam_event" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "kind" VARCHAR(24) NOT NULL,
    "at" TIMESTAMPTZ NOT NULL,
    "data" JSONB NOT NULL,
    "attempt_id" INT REFERENCES "exam_attempt" ("id") ON DELETE CASCADE,
    "seat_id" INT REFERENCES "exam_seat" ("id") ON DELETE SET NULL,
    "user_id" INT REFERENCES "app_user" ("id") ON DELETE SET NULL
);
""",
}

DOWNGRADE = """
DROP TABLE IF EXISTS "exam_event";
DROP TABLE IF EXISTS "exam_answer";
DROP TABLE IF EXISTS "exam_attempt";
DROP TABLE IF EXISTS "exam_session";
DROP TABLE IF EXISTS "exam_seat";
DROP TABLE IF EXISTS "exam_question";
DROP TABLE IF EXISTS "exam_room";
"""


async def upgrade(db: BaseDBAsyncClient) -> str:
    return SQL[db.capabilities.dialect] + RULES


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
