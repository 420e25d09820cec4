"""Drafts and the second person's decision (docs/spec.md §11.12, ISO/IEC 17065 §7.6): a CB's
own settings (`issuer_settings`: `review_required`, off unless its admin turns it on) and the
drafts its people prepare, submit, and another of them approves (issuing the certificate) or
rejects. No existing row changes: a CB without a settings row has every setting at its default.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "issuer_settings",
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("review_required", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_issuer_settings_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("issuer_id", name=op.f("pk_issuer_settings")),
    )
    op.create_table(
        "drafts",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("submission", sa.Text(), nullable=False),
        sa.Column("supersedes", sa.String(length=66), nullable=True),
        sa.Column("reason", sa.String(length=400), nullable=True),
        sa.Column("prepared_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=32), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("comment", sa.String(length=1000), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=32), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("certificate_id", sa.String(length=66), nullable=True),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_drafts_issuer_id_issuers")
        ),
        sa.ForeignKeyConstraint(
            ["prepared_by"], ["accounts.id"], name=op.f("fk_drafts_prepared_by_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["accounts.id"], name=op.f("fk_drafts_reviewed_by_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["withdrawn_by"], ["accounts.id"], name=op.f("fk_drafts_withdrawn_by_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drafts")),
    )
    op.create_index(
        "ix_drafts_issuer_id_state_created_at",
        "drafts",
        ["issuer_id", "state", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_drafts_issuer_id_state_created_at", table_name="drafts")
    op.drop_table("drafts")
    op.drop_table("issuer_settings")
