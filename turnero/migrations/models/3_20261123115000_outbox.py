"""Notifications: the outbox of SMS/WhatsApp messages and the replies received.

Frozen SQL for each supported dialect. The appointment link is a plain column (no
foreign key), so this migration does not depend on the scheduler's.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

SQL = {
    "sqlite": """
CREATE TABLE "inbound_message" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "provider_sid" VARCHAR(64) NOT NULL UNIQUE,
    "from_number" VARCHAR(20) NOT NULL,
    "channel" VARCHAR(16) NOT NULL /* SMS: sms\\nWHATSAPP: whatsapp */,
    "body" TEXT NOT NULL,
    "action" VARCHAR(24) NOT NULL,
    "appointment_id" INT,
    "received_at" TIMESTAMP NOT NULL
) /* A reply received through the provider's webhook, and what Turnero did with it. */;
CREATE INDEX "idx_inbound_mes_from_nu_90ac2b" ON "inbound_message" ("from_number");
CREATE TABLE "outbound_message" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "dedupe_key" VARCHAR(160) NOT NULL UNIQUE,
    "template" VARCHAR(40) NOT NULL,
    "to" VARCHAR(20) NOT NULL,
    "channel" VARCHAR(16) NOT NULL /* SMS: sms\\nWHATSAPP: whatsapp */,
    "body" TEXT NOT NULL,
    "status" VARCHAR(16) NOT NULL /* PENDING: pending\\nSENDING: sending\\nSENT: sent\\nFAILED: failed\\nCANCELLED: cancelled\\nDELIVERED: delivered\\nUNDELIVERED: undelivered */,
    "send_at" TIMESTAMP NOT NULL,
    "expires_at" TIMESTAMP,
    "attempts" INT NOT NULL,
    "next_attempt_at" TIMESTAMP NOT NULL,
    "claimed_by" VARCHAR(64),
    "claimed_until" TIMESTAMP,
    "last_error" TEXT,
    "provider_sid" VARCHAR(64) UNIQUE,
    "delivery_status" VARCHAR(24),
    "appointment_id" INT,
    "created_at" TIMESTAMP NOT NULL,
    "sent_at" TIMESTAMP,
    "status_changed_at" TIMESTAMP,
    "office_id" INT REFERENCES "office" ("id") ON DELETE SET NULL,
    "ticket_id" INT REFERENCES "ticket" ("id") ON DELETE SET NULL
) /* One message to one phone, written in the same transaction as the state change */;
CREATE INDEX "idx_outbound_me_appoint_4592a7" ON "outbound_message" ("appointment_id");
CREATE INDEX "idx_outbound_me_status_27001a" ON "outbound_message" ("status", "next_attempt_at");
""",
    "postgres": """
CREATE TABLE "inbound_message" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "provider_sid" VARCHAR(64) NOT NULL UNIQUE,
    "from_number" VARCHAR(20) NOT NULL,
    "channel" VARCHAR(16) NOT NULL,
    "body" TEXT NOT NULL,
    "action" VARCHAR(24) NOT NULL,
    "appointment_id" INT,
    "received_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX "idx_inbound_mes_from_nu_90ac2b" ON "inbound_message" ("from_number");
COMMENT ON COLUMN "inbound_message"."channel" IS 'SMS: sms\\nWHATSAPP: whatsapp';
COMMENT ON TABLE "inbound_message" IS 'A reply received through the provider''s webhook, and what Turnero did with it.';
CREATE TABLE "outbound_message" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "dedupe_key" VARCHAR(160) NOT NULL UNIQUE,
    "template" VARCHAR(40) NOT NULL,
    "to" VARCHAR(20) NOT NULL,
    "channel" VARCHAR(16) NOT NULL,
    "body" TEXT NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "send_at" TIMESTAMPTZ NOT NULL,
    "expires_at" TIMESTAMPTZ,
    "attempts" INT NOT NULL,
    "next_attempt_at" TIMESTAMPTZ NOT NULL,
    "claimed_by" VARCHAR(64),
    "claimed_until" TIMESTAMPTZ,
    "last_error" TEXT,
    "provider_sid" VARCHAR(64) UNIQUE,
    "delivery_status" VARCHAR(24),
    "appointment_id" INT,
    "created_at" TIMESTAMPTZ NOT NULL,
    "sent_at" TIMESTAMPTZ,
    "status_changed_at" TIMESTAMPTZ,
    "office_id" INT REFERENCES "office" ("id") ON DELETE SET NULL,
    "ticket_id" INT REFERENCES "ticket" ("id") ON DELETE SET NULL
);
CREATE INDEX "idx_outbound_me_appoint_4592a7" ON "outbound_message" ("appointment_id");
CREATE INDEX "idx_outbound_me_status_27001a" ON "outbound_message" ("status", "next_attempt_at");
COMMENT ON COLUMN "outbound_message"."channel" IS 'SMS: sms\\nWHATSAPP: whatsapp';
COMMENT ON COLUMN "outbound_message"."status" IS 'PENDING: pending\\nSENDING: sending\\nSENT: sent\\nFAILED: failed\\nCANCELLED: cancelled\\nDELIVERED: delivered\\nUNDELIVERED: undelivered';
COMMENT ON TABLE "outbound_message" IS 'One message to one phone, written in the same transaction as the state change';
""",
}

DOWNGRADE = """
DROP TABLE IF EXISTS "outbound_message";
DROP TABLE IF EXISTS "inbound_message";
"""


async def upgrade(db: BaseDBAsyncClient) -> str:
    return SQL[db.capabilities.dialect]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
