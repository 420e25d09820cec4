"""The holder's name and tax code as wide as the record model allows (500 and 100 characters):
at 300 and 40, PostgreSQL refused longer values the model had accepted, and the API answered 500.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # PostgreSQL widens a varchar without rewriting the table; SQLite (which enforces no
    # length) copies it once, in batch mode.
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.alter_column(
            "holder_name", existing_type=sa.String(length=300), type_=sa.String(length=500)
        )
        batch_op.alter_column(
            "holder_tax_code",
            existing_type=sa.String(length=40),
            type_=sa.String(length=100),
            existing_nullable=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.alter_column(
            "holder_tax_code",
            existing_type=sa.String(length=100),
            type_=sa.String(length=40),
            existing_nullable=True,
        )
        batch_op.alter_column(
            "holder_name", existing_type=sa.String(length=500), type_=sa.String(length=300)
        )
