"""Agent status: the latest heartbeat of each agent (version, problems, capacity).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from controller.store._models import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_status",
        sa.Column(
            "agent_name",
            sa.String(63),
            sa.ForeignKey("agents.name", name="fk_agent_status_agent_name_agents", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.JSON(), nullable=False),
        sa.Column("heartbeats", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("agent_status")
