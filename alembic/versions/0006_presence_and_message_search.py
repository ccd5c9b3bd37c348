"""presence last-seen; message search index (PostgreSQL pg_trgm GIN, SQLite FTS5)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 16:00:00.000000

The search index has no model (see app/db/metadata.py UNMODELLED): on PostgreSQL a
trigram GIN index on the searchable text of a message, on SQLite an FTS5 table with
the trigram tokenizer, kept in sync by triggers. The searchable-text expressions must
stay textually those of app/messaging/search_store.py.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_BODY = (
    "(CASE type WHEN 'text' THEN content ->> 'text' "
    "WHEN 'image' THEN content ->> 'caption' "
    "WHEN 'file' THEN content ->> 'name' END)"
)


def sqlite_body(row: str) -> str:
    return (
        f"CASE {row}.type WHEN 'text' THEN json_extract({row}.content, '$.text') "
        f"WHEN 'image' THEN json_extract({row}.content, '$.caption') "
        f"WHEN 'file' THEN json_extract({row}.content, '$.name') END"
    )


def upgrade() -> None:
    op.create_table('user_presence',
    sa.Column('user_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('last_seen_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id')
    )
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        # pg_trgm is a trusted extension (PostgreSQL >= 13): the database owner may create it.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.execute(
            f'CREATE INDEX ix_messages_search_trgm ON messages USING gin ({PG_BODY} gin_trgm_ops) '
            'WHERE revoked_at IS NULL'
        )
    elif dialect == 'sqlite':
        op.execute("CREATE VIRTUAL TABLE messages_fts USING fts5(body, tokenize='trigram')")
        op.execute(
            'CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.revoked_at IS NULL BEGIN '
            f'INSERT INTO messages_fts(rowid, body) SELECT new.id, body FROM (SELECT {sqlite_body("new")} AS body) '
            'WHERE body IS NOT NULL; END'
        )
        op.execute(
            'CREATE TRIGGER messages_fts_update AFTER UPDATE OF type, content, revoked_at ON messages BEGIN '
            'DELETE FROM messages_fts WHERE rowid = old.id; '
            f'INSERT INTO messages_fts(rowid, body) SELECT new.id, body FROM (SELECT {sqlite_body("new")} AS body) '
            'WHERE body IS NOT NULL AND new.revoked_at IS NULL; END'
        )
        op.execute(
            'CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN '
            'DELETE FROM messages_fts WHERE rowid = old.id; END'
        )
        op.execute(
            f'INSERT INTO messages_fts(rowid, body) SELECT id, body FROM '
            f'(SELECT messages.id AS id, {sqlite_body("messages")} AS body FROM messages '
            'WHERE messages.revoked_at IS NULL) WHERE body IS NOT NULL'
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_messages_search_trgm')
    elif dialect == 'sqlite':
        for trigger in ('messages_fts_insert', 'messages_fts_update', 'messages_fts_delete'):
            op.execute(f'DROP TRIGGER IF EXISTS {trigger}')
        op.execute('DROP TABLE IF EXISTS messages_fts')
    op.drop_table('user_presence')
