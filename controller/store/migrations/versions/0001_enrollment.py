"""Enrollment: registration tokens, agents, issued certificates.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from controller.store._models import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True),
        sa.Column("used_by", sa.String(63), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
    )
    op.create_table(
        "agents",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("registered_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
    )
    op.create_table(
        "certificates",
        sa.Column("serial", sa.String(40), primary_key=True),
        sa.Column(
            "agent_name",
            sa.String(63),
            sa.ForeignKey("agents.name", name="fk_certificates_agent_name_agents"),
            nullable=False,
        ),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
        sa.Column("not_after", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_certificates_agent_name", "certificates", ["agent_name"])


def downgrade() -> None:
    op.drop_index("ix_certificates_agent_name", "certificates")
    op.drop_table("certificates")
    op.drop_table("agents")
    op.drop_table("tokens")
