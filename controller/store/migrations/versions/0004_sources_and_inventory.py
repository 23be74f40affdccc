"""Inventory sources (vCenters, Azure vaults; secrets sealed) and inventory snapshots keyed by stable ids.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from controller.store._models import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vcenters",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("password_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("ca_pem", sa.Text(), nullable=True),
        sa.Column("thumbprint_sha256", sa.String(64), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "azure_vaults",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("subscription_id", sa.String(64), nullable=False),
        sa.Column("resource_group", sa.String(90), nullable=False),
        sa.Column("vault", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("client_secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("base_url", sa.String(255), nullable=True),
        sa.Column("authority", sa.String(255), nullable=True),
        sa.Column("ca_pem", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "inventory_snapshots",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("source_name", sa.String(63), nullable=False),
        sa.Column(
            "job_id",
            sa.Integer(),
            sa.ForeignKey("jobs.id", name="fk_inventory_snapshots_job_id_jobs", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("taken_at", UtcDateTime(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.UniqueConstraint("job_id", name="uq_inventory_snapshots_job_id"),
    )
    op.create_index("ix_inventory_snapshots_source", "inventory_snapshots", ["source_kind", "source_name", "id"])
    op.create_table(
        "inventory_objects",
        sa.Column(
            "snapshot_id",
            sa.Integer(),
            sa.ForeignKey(
                "inventory_snapshots.id",
                name="fk_inventory_objects_snapshot_id_inventory_snapshots",
                ondelete="CASCADE",
            ),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(1024), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("parent_key", sa.String(1024), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
    )
    op.create_index("ix_inventory_objects_kind_key", "inventory_objects", ["kind", "key"])


def downgrade() -> None:
    op.drop_index("ix_inventory_objects_kind_key", "inventory_objects")
    op.drop_table("inventory_objects")
    op.drop_index("ix_inventory_snapshots_source", "inventory_snapshots")
    op.drop_table("inventory_snapshots")
    op.drop_table("azure_vaults")
    op.drop_table("vcenters")
