"""The frozen migrations build the schema the models expect, and re-running them is a no-op."""

from tortoise import Tortoise

from turnero.core.db import run_migrations, tortoise_config


async def test_every_model_column_exists_after_migrating(db):
    for app in Tortoise.apps.values():
        for model in app.values():
            meta = model._meta
            columns = ", ".join(f'"{meta.fields_db_projection[f]}"' for f in meta.db_fields)
            # Fails if a table or column the model maps is missing from the migrated schema.
            await meta.db.execute_query(f'SELECT {columns} FROM "{meta.db_table}" LIMIT 0')


async def test_migrations_are_idempotent(db):
    assert await run_migrations(tortoise_config(db)) == []


async def test_a_sqlite_file_in_a_folder_not_made_yet_opens(tmp_path):
    # (aiosqlite never returned from opening such a file: the start-up hung.)
    import asyncio

    from turnero.core.db import close_db, init_db
    from tests.driver import app_settings

    path = tmp_path / "no" / "such" / "folder" / "turnero.sqlite3"
    await asyncio.wait_for(init_db(app_settings(database_url=f"sqlite://{path}")), 30)
    await close_db()
    assert path.exists()
