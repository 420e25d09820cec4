"""The authority's statements in the log (docs/spec.md §3a): each CB's admission as they set
it, and the anchored preimages of the CBs' status-map leaves.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admissions",
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("admission_seq", sa.BigInteger(), nullable=False),
        sa.Column("admission_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("status_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.Column("last_hashes", sa.JSON(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_admissions_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("issuer_id", name=op.f("pk_admissions")),
    )
    op.create_table(
        "map_issuer_leaves",
        sa.Column("key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("admission_seq", sa.BigInteger(), nullable=False),
        sa.Column("admission_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("status_seq", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_map_issuer_leaves")),
        sa.UniqueConstraint("issuer_id", name=op.f("uq_map_issuer_leaves_issuer_id")),
    )
    with op.batch_alter_table("map_issuer_leaves", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_map_issuer_leaves_version"), ["version"], unique=False)


def downgrade() -> None:
    op.drop_table("map_issuer_leaves")
    op.drop_table("admissions")
