"""Per-issuer daily issuance counts, for the optional issuance quota.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "issuance_counts",
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("issued", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_issuance_counts_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("issuer_id", "day", name=op.f("pk_issuance_counts")),
    )


def downgrade() -> None:
    op.drop_table("issuance_counts")
