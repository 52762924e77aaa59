"""Exam seat links are bound to one assignment: `exam_attempt.seat_token` is the link
the seat's computer opens for that candidate (/exam/seat/{token}), made at check-in and
made anew by a seat swap. The seat's own token only shows an idle seat, so a link seen
once can neither read nor answer a later candidate's exam (exam/service.py). Attempts
holding a seat when this runs get a link of their own (the board shows it)."""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

_STATUSES = "('assigned', 'in_progress', 'finished')"
SQL = {
    "sqlite": (
        'ALTER TABLE "exam_attempt" ADD COLUMN "seat_token" VARCHAR(48);\n'
        'CREATE UNIQUE INDEX IF NOT EXISTS "uidx_exam_attempt_seat_token" ON "exam_attempt" ("seat_token");\n'
        'UPDATE "exam_attempt" SET "seat_token" = lower(hex(randomblob(12)))'
        f' WHERE "seat_id" IS NOT NULL AND "status" IN {_STATUSES};'
    ),
    "postgres": (
        'ALTER TABLE "exam_attempt" ADD COLUMN "seat_token" VARCHAR(48);\n'
        'CREATE UNIQUE INDEX IF NOT EXISTS "uidx_exam_attempt_seat_token" ON "exam_attempt" ("seat_token");\n'
        'UPDATE "exam_attempt" SET "seat_token" = replace(gen_random_uuid()::text, \'-\', \'\')'
        f' WHERE "seat_id" IS NOT NULL AND "status" IN {_STATUSES};'
    ),
}
DOWNGRADE = (
    'DROP INDEX IF EXISTS "uidx_exam_attempt_seat_token";\n'
    'ALTER TABLE "exam_attempt" DROP COLUMN "seat_token";'
)


async def upgrade(db: BaseDBAsyncClient) -> str:
    return SQL[db.capabilities.dialect]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
