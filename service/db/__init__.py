"""PostgreSQL: pool, migrations, named queries and one typed function per query."""
