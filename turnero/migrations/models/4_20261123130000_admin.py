"""The administration audit log (turnero/admin/models.py: AuditEntry)."""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

SQL = {
    "sqlite": """
CREATE TABLE IF NOT EXISTS "admin_audit" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "at" TIMESTAMP NOT NULL,
    "username" VARCHAR(64) NOT NULL,
    "action" VARCHAR(48) NOT NULL,
    "target" VARCHAR(160) NOT NULL,
    "before" JSON,
    "after" JSON,
    "office_id" INT REFERENCES "office" ("id") ON DELETE SET NULL,
    "user_id" INT REFERENCES "app_user" ("id") ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS "idx_admin_audit_at" ON "admin_audit" ("at");
CREATE INDEX IF NOT EXISTS "idx_admin_audit_office_at" ON "admin_audit" ("office_id", "at");
""",
    "postgres": """
CREATE TABLE IF NOT EXISTS "admin_audit" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "at" TIMESTAMPTZ NOT NULL,
    "username" VARCHAR(64) NOT NULL,
    "action" VARCHAR(48) NOT NULL,
    "target" VARCHAR(160) NOT NULL,
    "before" JSONB,
    "after" JSONB,
    "office_id" INT REFERENCES "office" ("id") ON DELETE SET NULL,
    "user_id" INT REFERENCES "app_user" ("id") ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS "idx_admin_audit_at" ON "admin_audit" ("at");
CREATE INDEX IF NOT EXISTS "idx_admin_audit_office_at" ON "admin_audit" ("office_id", "at");
COMMENT ON TABLE "admin_audit" IS 'One configuration change, written in the same transaction as the change.';
""",
}

DOWNGRADE = 'DROP TABLE IF EXISTS "admin_audit";'


async def upgrade(db: BaseDBAsyncClient) -> str:
    return SQL[db.capabilities.dialect]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
