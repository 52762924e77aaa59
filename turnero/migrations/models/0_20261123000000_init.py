"""Initial schema: offices, catalogue, users, tokens, desks, tickets and their events.

Frozen SQL for each supported dialect (Aerich runs `upgrade` on start-up).
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

SQL = {
    "sqlite": """
CREATE TABLE "office" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "code" VARCHAR(32) NOT NULL UNIQUE,
    "name" VARCHAR(120) NOT NULL,
    "institution" VARCHAR(32) NOT NULL,
    "department" VARCHAR(40) NOT NULL,
    "city" VARCHAR(80) NOT NULL,
    "address" VARCHAR(200) NOT NULL,
    "timezone" VARCHAR(64) NOT NULL,
    "opening_hours" JSON NOT NULL,
    "active" INT NOT NULL
);
CREATE TABLE "service" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "code" VARCHAR(32) NOT NULL UNIQUE,
    "name" VARCHAR(120) NOT NULL,
    "prefix" VARCHAR(3) NOT NULL,
    "walk_in" INT NOT NULL,
    "bookable" INT NOT NULL,
    "kind" VARCHAR(16) NOT NULL /* COUNTER: counter\\nEXAM: exam */,
    "requirements" JSON NOT NULL,
    "steps" JSON NOT NULL,
    "expected_service_minutes" REAL NOT NULL,
    "active" INT NOT NULL
);
CREATE TABLE "office_service" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE CASCADE,
    "service_id" INT NOT NULL REFERENCES "service" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_office_serv_office__0d5e85" UNIQUE ("office_id", "service_id")
) /* The per-office catalogue: which trámites an office offers. */;
CREATE TABLE "app_user" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "username" VARCHAR(64) NOT NULL UNIQUE,
    "full_name" VARCHAR(120) NOT NULL,
    "password_hash" VARCHAR(255) NOT NULL,
    "role" VARCHAR(16) NOT NULL /* ADMIN: admin\\nSUPERVISOR: supervisor\\nOPERATOR: operator\\nKIOSK: kiosk\\nDISPLAY: display */,
    "active" INT NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "office_id" INT REFERENCES "office" ("id") ON DELETE RESTRICT
);
CREATE TABLE "api_token" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "digest" VARCHAR(64) NOT NULL UNIQUE,
    "created_at" TIMESTAMP NOT NULL,
    "expires_at" TIMESTAMP NOT NULL,
    "user_id" INT NOT NULL REFERENCES "app_user" ("id") ON DELETE CASCADE
);
CREATE INDEX "idx_api_token_expires_5198a2" ON "api_token" ("expires_at");
CREATE TABLE "desk" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "name" VARCHAR(32) NOT NULL,
    "status" VARCHAR(16) NOT NULL /* OPEN: open\\nPAUSED: paused\\nCLOSED: closed */,
    "preferential_streak" INT NOT NULL,
    "status_changed_at" TIMESTAMP,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE CASCADE,
    "operator_id" INT REFERENCES "app_user" ("id") ON DELETE SET NULL,
    CONSTRAINT "uid_desk_office__aa50dd" UNIQUE ("office_id", "name")
);
CREATE TABLE "desk_event" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "at" TIMESTAMP NOT NULL,
    "desk_id" INT NOT NULL REFERENCES "desk" ("id") ON DELETE CASCADE,
    "user_id" INT REFERENCES "app_user" ("id") ON DELETE SET NULL
) /* Audit trail of desk status changes (open, pause, close), for productivity reports. */;
CREATE TABLE "desk_service" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "weight" INT NOT NULL,
    "desk_id" INT NOT NULL REFERENCES "desk" ("id") ON DELETE CASCADE,
    "service_id" INT NOT NULL REFERENCES "service" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_desk_servic_desk_id_bc9105" UNIQUE ("desk_id", "service_id")
) /* A service a desk serves; weight 1 is primary, higher weights are fallbacks. */;
CREATE TABLE "ticket" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "public_id" VARCHAR(32) NOT NULL UNIQUE,
    "visit_id" VARCHAR(32) NOT NULL,
    "hop" INT NOT NULL,
    "step_index" INT NOT NULL,
    "day" DATE NOT NULL,
    "number" VARCHAR(16) NOT NULL,
    "priority" VARCHAR(16) NOT NULL /* REGULAR: regular\\nSENIOR: senior\\nDISABILITY: disability\\nPREGNANT: pregnant\\nCHILD: child */,
    "lane" VARCHAR(16) NOT NULL /* APPOINTMENT: appointment\\nPREFERENTIAL: preferential\\nREGULAR: regular */,
    "party_size" INT NOT NULL,
    "phone" VARCHAR(20),
    "status" VARCHAR(16) NOT NULL /* WAITING: waiting\\nCALLED: called\\nSERVING: serving\\nDONE: done\\nNO_SHOW: no_show\\nCANCELLED: cancelled\\nTRANSFERRED: transferred */,
    "arrived_at" TIMESTAMP NOT NULL,
    "due_at" TIMESTAMP,
    "issued_at" TIMESTAMP NOT NULL,
    "called_at" TIMESTAMP,
    "started_at" TIMESTAMP,
    "finished_at" TIMESTAMP,
    "recall_count" INT NOT NULL,
    "desk_id" INT REFERENCES "desk" ("id") ON DELETE SET NULL,
    "flow_service_id" INT REFERENCES "service" ("id") ON DELETE RESTRICT,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE RESTRICT,
    "previous_id" INT REFERENCES "ticket" ("id") ON DELETE SET NULL,
    "service_id" INT NOT NULL REFERENCES "service" ("id") ON DELETE RESTRICT,
    CONSTRAINT "uid_ticket_office__e2fc16" UNIQUE ("office_id", "day", "number", "hop")
) /* One turn in one queue. A transfer or the next step of a visit is a new row with */;
CREATE INDEX "idx_ticket_visit_i_427b4c" ON "ticket" ("visit_id");
CREATE INDEX "idx_ticket_office__a80102" ON "ticket" ("office_id", "status", "lane", "arrived_at");
CREATE INDEX "idx_ticket_desk_id_402de2" ON "ticket" ("desk_id", "status");
CREATE TABLE "ticket_counter" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "prefix" VARCHAR(3) NOT NULL,
    "day" DATE NOT NULL,
    "value" INT NOT NULL,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_ticket_coun_office__4c5f27" UNIQUE ("office_id", "prefix", "day")
) /* Last number issued per office, ticket prefix and office-local day. */;
CREATE TABLE "ticket_event" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "kind" VARCHAR(24) NOT NULL,
    "at" TIMESTAMP NOT NULL,
    "data" JSON NOT NULL,
    "desk_id" INT REFERENCES "desk" ("id") ON DELETE SET NULL,
    "ticket_id" INT NOT NULL REFERENCES "ticket" ("id") ON DELETE CASCADE,
    "user_id" INT REFERENCES "app_user" ("id") ON DELETE SET NULL
) /* Audit trail: one row per state change, written in the same transaction. */;
CREATE TABLE "aerich" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSON NOT NULL
);
""",
    "postgres": """
CREATE TABLE "office" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "code" VARCHAR(32) NOT NULL UNIQUE,
    "name" VARCHAR(120) NOT NULL,
    "institution" VARCHAR(32) NOT NULL,
    "department" VARCHAR(40) NOT NULL,
    "city" VARCHAR(80) NOT NULL,
    "address" VARCHAR(200) NOT NULL,
    "timezone" VARCHAR(64) NOT NULL,
    "opening_hours" JSONB NOT NULL,
    "active" BOOL NOT NULL
);
CREATE TABLE "service" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "code" VARCHAR(32) NOT NULL UNIQUE,
    "name" VARCHAR(120) NOT NULL,
    "prefix" VARCHAR(3) NOT NULL,
    "walk_in" BOOL NOT NULL,
    "bookable" BOOL NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "requirements" JSONB NOT NULL,
    "steps" JSONB NOT NULL,
    "expected_service_minutes" DOUBLE PRECISION NOT NULL,
    "active" BOOL NOT NULL
);
COMMENT ON COLUMN "service"."kind" IS 'COUNTER: counter\\nEXAM: exam';
CREATE TABLE "office_service" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE CASCADE,
    "service_id" INT NOT NULL REFERENCES "service" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_office_serv_office__0d5e85" UNIQUE ("office_id", "service_id")
);
COMMENT ON TABLE "office_service" IS 'The per-office catalogue: which trámites an office offers.';
CREATE TABLE "app_user" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "username" VARCHAR(64) NOT NULL UNIQUE,
    "full_name" VARCHAR(120) NOT NULL,
    "password_hash" VARCHAR(255) NOT NULL,
    "role" VARCHAR(16) NOT NULL,
    "active" BOOL NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "office_id" INT REFERENCES "office" ("id") ON DELETE RESTRICT
);
COMMENT ON COLUMN "app_user"."role" IS 'ADMIN: admin\\nSUPERVISOR: supervisor\\nOPERATOR: operator\\nKIOSK: kiosk\\nDISPLAY: display';
CREATE TABLE "api_token" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "digest" VARCHAR(64) NOT NULL UNIQUE,
    "created_at" TIMESTAMPTZ NOT NULL,
    "expires_at" TIMESTAMPTZ NOT NULL,
    "user_id" INT NOT NULL REFERENCES "app_user" ("id") ON DELETE CASCADE
);
CREATE INDEX "idx_api_token_expires_5198a2" ON "api_token" ("expires_at");
CREATE TABLE "desk" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "name" VARCHAR(32) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "preferential_streak" INT NOT NULL,
    "status_changed_at" TIMESTAMPTZ,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE CASCADE,
    "operator_id" INT REFERENCES "app_user" ("id") ON DELETE SET NULL,
    CONSTRAINT "uid_desk_office__aa50dd" UNIQUE ("office_id", "name")
);
COMMENT ON COLUMN "desk"."status" IS 'OPEN: open\\nPAUSED: paused\\nCLOSED: closed';
CREATE TABLE "desk_event" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "kind" VARCHAR(16) NOT NULL,
    "at" TIMESTAMPTZ NOT NULL,
    "desk_id" INT NOT NULL REFERENCES "desk" ("id") ON DELETE CASCADE,
    "user_id" INT REFERENCES "app_user" ("id") ON DELETE SET NULL
);
COMMENT ON TABLE "desk_event" IS 'Audit trail of desk status changes (open, pause, close), for productivity reports.';
CREATE TABLE "desk_service" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "weight" INT NOT NULL,
    "desk_id" INT NOT NULL REFERENCES "desk" ("id") ON DELETE CASCADE,
    "service_id" INT NOT NULL REFERENCES "service" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_desk_servic_desk_id_bc9105" UNIQUE ("desk_id", "service_id")
);
COMMENT ON TABLE "desk_service" IS 'A service a desk serves; weight 1 is primary, higher weights are fallbacks.';
CREATE TABLE "ticket" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "public_id" VARCHAR(32) NOT NULL UNIQUE,
    "visit_id" VARCHAR(32) NOT NULL,
    "hop" INT NOT NULL,
    "step_index" INT NOT NULL,
    "day" DATE NOT NULL,
    "number" VARCHAR(16) NOT NULL,
    "priority" VARCHAR(16) NOT NULL,
    "lane" VARCHAR(16) NOT NULL,
    "party_size" INT NOT NULL,
    "phone" VARCHAR(20),
    "status" VARCHAR(16) NOT NULL,
    "arrived_at" TIMESTAMPTZ NOT NULL,
    "due_at" TIMESTAMPTZ,
    "issued_at" TIMESTAMPTZ NOT NULL,
    "called_at" TIMESTAMPTZ,
    "started_at" TIMESTAMPTZ,
    "finished_at" TIMESTAMPTZ,
    "recall_count" INT NOT NULL,
    "desk_id" INT REFERENCES "desk" ("id") ON DELETE SET NULL,
    "flow_service_id" INT REFERENCES "service" ("id") ON DELETE RESTRICT,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE RESTRICT,
    "previous_id" INT REFERENCES "ticket" ("id") ON DELETE SET NULL,
    "service_id" INT NOT NULL REFERENCES "service" ("id") ON DELETE RESTRICT,
    CONSTRAINT "uid_ticket_office__e2fc16" UNIQUE ("office_id", "day", "number", "hop")
);
CREATE INDEX "idx_ticket_visit_i_427b4c" ON "ticket" ("visit_id");
CREATE INDEX "idx_ticket_office__a80102" ON "ticket" ("office_id", "status", "lane", "arrived_at");
CREATE INDEX "idx_ticket_desk_id_402de2" ON "ticket" ("desk_id", "status");
COMMENT ON COLUMN "ticket"."priority" IS 'REGULAR: regular\\nSENIOR: senior\\nDISABILITY: disability\\nPREGNANT: pregnant\\nCHILD: child';
COMMENT ON COLUMN "ticket"."lane" IS 'APPOINTMENT: appointment\\nPREFERENTIAL: preferential\\nREGULAR: regular';
COMMENT ON COLUMN "ticket"."status" IS 'WAITING: waiting\\nCALLED: called\\nSERVING: serving\\nDONE: done\\nNO_SHOW: no_show\\nCANCELLED: cancelled\\nTRANSFERRED: transferred';
COMMENT ON TABLE "ticket" IS 'One turn in one queue. A transfer or the next step of a visit is a new row with';
CREATE TABLE "ticket_counter" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "prefix" VARCHAR(3) NOT NULL,
    "day" DATE NOT NULL,
    "value" INT NOT NULL,
    "office_id" INT NOT NULL REFERENCES "office" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_ticket_coun_office__4c5f27" UNIQUE ("office_id", "prefix", "day")
);
COMMENT ON TABLE "ticket_counter" IS 'Last number issued per office, ticket prefix and office-local day.';
CREATE TABLE "ticket_event" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "kind" VARCHAR(24) NOT NULL,
    "at" TIMESTAMPTZ NOT NULL,
    "data" JSONB NOT NULL,
    "desk_id" INT REFERENCES "desk" ("id") ON DELETE SET NULL,
    "ticket_id" INT NOT NULL REFERENCES "ticket" ("id") ON DELETE CASCADE,
    "user_id" INT REFERENCES "app_user" ("id") ON DELETE SET NULL
);
COMMENT ON TABLE "ticket_event" IS 'Audit trail: one row per state change, written in the same transaction.';
CREATE TABLE "aerich" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSONB NOT NULL
);
""",
}


async def upgrade(db: BaseDBAsyncClient) -> str:
    return SQL[db.capabilities.dialect]


async def downgrade(db: BaseDBAsyncClient) -> str:
    raise NotImplementedError("the initial schema is not downgraded; restore a backup instead")
