"""Failback groups, failback plans and protected items with their workflow state.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from controller.store._models import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "failback_groups",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("vault", sa.String(63), nullable=False),
        sa.Column("protection_group", sa.String(1024), nullable=False),
        sa.Column("protection_group_name", sa.String(255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "failback_plans",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("vault", sa.String(63), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "protected_items",
        sa.Column("key", sa.String(1100), primary_key=True),
        sa.Column("vault", sa.String(63), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("group_name", sa.String(128), nullable=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("asr", sa.JSON(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("rollback_until", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_protected_items_vault", "protected_items", ["vault"])


def downgrade() -> None:
    op.drop_index("ix_protected_items_vault", "protected_items")
    op.drop_table("protected_items")
    op.drop_table("failback_plans")
    op.drop_table("failback_groups")
