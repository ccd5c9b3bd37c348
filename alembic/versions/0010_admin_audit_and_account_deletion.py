"""admin audit log (append-only), password reset tokens, users.deleted_at

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 16:35:00

`users` gains a nullable column with a native ADD COLUMN (never batch mode: recreating
`users` under foreign_keys=ON would cascade-delete every row that refers to it).
The audit table refuses UPDATE and DELETE through triggers on both dialects.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('admin_audit',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('actor_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('actor_user_id', sa.BigInteger(), nullable=True),
    sa.Column('route', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('transport', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('args', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('result', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('ip', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_admin_audit_actor', 'admin_audit', ['actor_user_id', 'id'], unique=False)
    op.create_index('ix_admin_audit_route', 'admin_audit', ['route', 'id'], unique=False)
    op.create_table('password_resets',
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('used_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash')
    )
    op.create_index('ix_password_resets_user', 'password_resets', ['user_id'], unique=False)
    op.add_column('users', sa.Column('deleted_at', sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            "CREATE FUNCTION admin_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'admin_audit is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER admin_audit_append_only BEFORE UPDATE OR DELETE ON admin_audit "
            "FOR EACH ROW EXECUTE FUNCTION admin_audit_append_only()"
        )
    else:
        for action in ('UPDATE', 'DELETE'):
            op.execute(
                f"CREATE TRIGGER admin_audit_no_{action.lower()} BEFORE {action} ON admin_audit "
                "BEGIN SELECT RAISE(ABORT, 'admin_audit is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS admin_audit_append_only ON admin_audit")
        op.execute("DROP FUNCTION IF EXISTS admin_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS admin_audit_no_update")
        op.execute("DROP TRIGGER IF EXISTS admin_audit_no_delete")
    op.drop_column('users', 'deleted_at')
    op.drop_index('ix_password_resets_user', table_name='password_resets')
    op.drop_table('password_resets')
    op.drop_index('ix_admin_audit_route', table_name='admin_audit')
    op.drop_index('ix_admin_audit_actor', table_name='admin_audit')
    op.drop_table('admin_audit')
