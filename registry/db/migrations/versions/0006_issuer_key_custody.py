"""Issuer keys the authority approves (docs/spec.md §3a.1, §11.11): who keeps each private key
(`custody`), the log positions of its approval and of its revocation, and keys a CB proposed
that the authority has not approved yet (state `proposed`). A key the CB holds has no sealed
private half here.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("issuer_keys", schema=None) as batch_op:
        batch_op.alter_column("private_key_enc", existing_type=sa.LargeBinary(), nullable=True)
        # Every key before this revision was made and sealed by the registry.
        batch_op.add_column(
            sa.Column("custody", sa.String(length=8), nullable=False, server_default="hosted")
        )
        batch_op.add_column(sa.Column("approved_seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("revoked_from_seq", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issuer_keys", schema=None) as batch_op:
        batch_op.drop_column("revoked_from_seq")
        batch_op.drop_column("approved_seq")
        batch_op.drop_column("custody")
        batch_op.alter_column("private_key_enc", existing_type=sa.LargeBinary(), nullable=False)
