"""The current schema as one readable file (service/db/schema.sql), produced from the migrations.

The migrations stay the source of truth; schema.sql is what migrating from empty gives, read back
from the catalog in a stable order, so that a reader sees every table, type, view, function and
trigger in one place. A test checks that the file matches. Regenerate it after adding a migration:

    python -m service.db.schema > service/db/schema.sql

(optionally followed by the DSN of a PostgreSQL server where a scratch database may be created;
default: the local server at 127.0.0.1:5432).
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from service.db.migrate import migrate

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
HEADER = (
    "-- The schema that migrating from empty gives (service/db/migrations), read back from the\n"
    "-- catalog. Generated: do not edit. Regenerate after adding a migration with\n"
    "--     python -m service.db.schema > service/db/schema.sql\n"
)

ENUMS = """
SELECT t.typname AS name, array_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels
FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public'
GROUP BY t.typname ORDER BY t.typname
"""
COMPOSITES = """
SELECT t.typname AS name,
       array_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
         AS fields
FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = 'public' AND t.typtype = 'c' AND c.relkind = 'c'
GROUP BY t.typname ORDER BY t.typname
"""
TABLES = """
SELECT c.oid, c.relname AS name, c.relkind = 'p' AS partitioned
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname
"""
COLUMNS = """
SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
       pg_get_expr(d.adbin, d.adrelid) AS default, nullif(a.attidentity::text, '') AS identity,
       nullif(a.attgenerated::text, '') AS generated
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
"""
CONSTRAINTS = """
SELECT conname AS name, pg_get_constraintdef(oid) AS definition
FROM pg_constraint WHERE conrelid = $1 ORDER BY contype DESC, conname
"""
INDEXES = """
SELECT i.indexdef AS definition FROM pg_indexes i
WHERE i.schemaname = 'public'
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                  WHERE c.conname = i.indexname AND c.contype IN ('p', 'u', 'x'))
ORDER BY i.tablename, i.indexname
"""
VIEWS = """
SELECT c.relname AS name, c.relkind = 'm' AS materialized, pg_get_viewdef(c.oid) AS definition
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm') ORDER BY c.relname
"""
FUNCTIONS = """
SELECT pg_get_functiondef(p.oid) AS definition
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' ORDER BY p.proname, pg_get_function_identity_arguments(p.oid)
"""
TRIGGERS = """
SELECT pg_get_triggerdef(t.oid) AS definition
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND NOT t.tgisinternal ORDER BY c.relname, t.tgname
"""


async def schema_of(conn: asyncpg.Connection) -> str:
    """The public schema of the connected database as SQL text, in a stable order."""
    parts = [HEADER]
    parts += [_enum(r) for r in await conn.fetch(ENUMS)]
    parts += [_composite(r) for r in await conn.fetch(COMPOSITES)]
    for table in await conn.fetch(TABLES):
        columns = await conn.fetch(COLUMNS, table["oid"])
        constraints = await conn.fetch(CONSTRAINTS, table["oid"])
        parts.append(_table(table["name"], columns, constraints))
    parts += [f"{r['definition']};\n" for r in await conn.fetch(INDEXES)]
    parts += [_view(r) for r in await conn.fetch(VIEWS)]
    parts += [f"{r['definition'].rstrip()};\n" for r in await conn.fetch(FUNCTIONS)]
    parts += [f"{r['definition']};\n" for r in await conn.fetch(TRIGGERS)]
    return "\n".join(parts)


def _enum(row: asyncpg.Record) -> str:
    labels = ",\n".join(f"    '{label}'" for label in row["labels"])
    return f"CREATE TYPE {row['name']} AS ENUM (\n{labels}\n);\n"


def _composite(row: asyncpg.Record) -> str:
    fields = ",\n".join(f"    {field}" for field in row["fields"])
    return f"CREATE TYPE {row['name']} AS (\n{fields}\n);\n"


def _table(name: str, columns: list[asyncpg.Record], constraints: list[asyncpg.Record]) -> str:
    lines = [_column(c) for c in columns]
    lines += [f"CONSTRAINT {c['name']} {c['definition']}" for c in constraints]
    body = ",\n".join(f"    {line}" for line in lines)
    return f"CREATE TABLE {name} (\n{body}\n);\n"


def _column(col: asyncpg.Record) -> str:
    text = f"{col['name']} {col['type']}"
    if col["identity"]:
        kind = "ALWAYS" if col["identity"] == "a" else "BY DEFAULT"
        text += f" GENERATED {kind} AS IDENTITY"
    elif col["generated"]:
        text += f" GENERATED ALWAYS AS ({col['default']}) STORED"
    elif col["default"] is not None:
        text += f" DEFAULT {col['default']}"
    return text + (" NOT NULL" if col["not_null"] else "")


def _view(row: asyncpg.Record) -> str:
    kind = "MATERIALIZED VIEW" if row["materialized"] else "VIEW"
    return f"CREATE {kind} {row['name']} AS\n{row['definition'].rstrip().rstrip(';')};\n"


async def migrated_schema(server_dsn: str) -> str:
    """Migrate a scratch database on the server from empty, read its schema, drop it."""
    name = f"takedown_schema_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            conn = await asyncpg.connect(urlunsplit(urlsplit(server_dsn)._replace(path=f"/{name}")))
            try:
                await migrate(conn)
                return await schema_of(conn)
            finally:
                await conn.close()
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


if __name__ == "__main__":
    server = sys.argv[1] if len(sys.argv) > 1 else LOCAL_SERVER
    sys.stdout.write(asyncio.run(migrated_schema(server)))
