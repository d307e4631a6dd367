"""PostgreSQL adapters (asyncpg): pool, migrations, repositories, outbox."""
