"""Trámites carry what they cost and how to pay (`fee_bs`, `fee_note`), who is exempt
(`exemptions`) and the identity documents they may be booked with (`documents`; empty:
any). A cita's `document_key` (one active cita per document and service) now holds the
complemento too: it is what tells apart two people who share a CI number."""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

_KEY = ("UPDATE \"appointment\" SET \"document_key\" = \"document_type\" || ':' || \"document_number\""
        " || CASE WHEN \"document_complement\" IS NULL THEN '' ELSE '-' || \"document_complement\" END;")
SQL = {
    "sqlite": (
        'ALTER TABLE "service" ADD COLUMN "fee_bs" REAL;\n'
        'ALTER TABLE "service" ADD COLUMN "fee_note" VARCHAR(300) NOT NULL DEFAULT \'\';\n'
        'ALTER TABLE "service" ADD COLUMN "exemptions" JSON NOT NULL DEFAULT \'[]\';\n'
        'ALTER TABLE "service" ADD COLUMN "documents" JSON NOT NULL DEFAULT \'[]\';\n' + _KEY
    ),
    "postgres": (
        'ALTER TABLE "service" ADD COLUMN "fee_bs" DOUBLE PRECISION;\n'
        'ALTER TABLE "service" ADD COLUMN "fee_note" VARCHAR(300) NOT NULL DEFAULT \'\';\n'
        'ALTER TABLE "service" ADD COLUMN "exemptions" JSONB NOT NULL DEFAULT \'[]\';\n'
        'ALTER TABLE "service" ADD COLUMN "documents" JSONB NOT NULL DEFAULT \'[]\';\n' + _KEY
    ),
}
DOWNGRADE = (
    "UPDATE \"appointment\" SET \"document_key\" = \"document_type\" || ':' || \"document_number\";\n"
    'ALTER TABLE "service" DROP COLUMN "documents";\n'
    'ALTER TABLE "service" DROP COLUMN "exemptions";\n'
    'ALTER TABLE "service" DROP COLUMN "fee_note";\n'
    'ALTER TABLE "service" DROP COLUMN "fee_bs";'
)


async def upgrade(db: BaseDBAsyncClient) -> str:
    return SQL[db.capabilities.dialect]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
