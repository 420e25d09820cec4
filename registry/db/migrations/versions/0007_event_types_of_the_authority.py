"""Room for the authority's entries about certificates in `events.type`
(`suspend_certificate`, `withdraw_certificate`: docs/spec.md §3a.1), 16 → 24 characters.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column(
            "type", existing_type=sa.String(length=16), type_=sa.String(length=24)
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column(
            "type", existing_type=sa.String(length=24), type_=sa.String(length=16)
        )
