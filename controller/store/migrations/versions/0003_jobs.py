"""Jobs and their steps; at most one unfinished job per subject (a partial unique index).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from controller.store._models import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(255), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("cancel_requested_at", UtcDateTime(), nullable=True),
        sa.Column("cancel_requested_by", sa.String(128), nullable=True),
        sa.Column("irrevocable", sa.Boolean(), nullable=False),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_expires_at", UtcDateTime(), nullable=True),
        sa.Column("lease_epoch", sa.Integer(), nullable=False),
        sa.Column("not_before", UtcDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("remedy", sa.Text(), nullable=True),
    )
    op.create_index("ix_jobs_state", "jobs", ["state"])
    unfinished = sa.text("finished_at IS NULL")
    op.create_index(
        "uq_jobs_unfinished_subject",
        "jobs",
        ["subject"],
        unique=True,
        sqlite_where=unfinished,
        postgresql_where=unfinished,
    )
    op.create_table(
        "job_steps",
        sa.Column(
            "job_id",
            sa.Integer(),
            sa.ForeignKey("jobs.id", name="fk_job_steps_job_id_jobs", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_started_at", UtcDateTime(), nullable=True),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("retry_at", UtcDateTime(), nullable=True),
        sa.Column("fraction", sa.Float(), nullable=False),
        sa.Column("bytes_done", sa.BigInteger(), nullable=True),
        sa.Column("bytes_total", sa.BigInteger(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("remedy", sa.Text(), nullable=True),
        sa.Column("output", sa.JSON(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("job_steps")
    op.drop_index("uq_jobs_unfinished_subject", "jobs")
    op.drop_index("ix_jobs_state", "jobs")
    op.drop_table("jobs")
