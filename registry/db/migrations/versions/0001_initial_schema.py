"""Initial schema: issuers, keys, certificates, events, log tiles, status map, checkpoints.

Revision ID: 0001
Revises: (none)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkpoints",
        sa.Column("index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("log_root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("map_root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("anchored_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("index", name=op.f("pk_checkpoints")),
        sa.UniqueConstraint("tree_size", name=op.f("uq_checkpoints_tree_size")),
    )
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkpoints_state"), ["state"], unique=False)

    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("certificate_id", sa.String(length=66), nullable=False),
        sa.Column("supersedes", sa.String(length=66), nullable=True),
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_certificate_id_seq", ["certificate_id", "seq"], unique=False
        )
        batch_op.create_index("ix_events_supersedes_seq", ["supersedes", "seq"], unique=False)

    op.create_table(
        "issuers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name_vi", sa.String(length=300), nullable=False),
        sa.Column("name_en", sa.String(length=300), nullable=False),
        sa.Column("accreditation", sa.String(length=100), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuers")),
    )
    op.create_table(
        "log_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_head")),
    )
    # The one head row every append locks (see registry.db.repositories.LogRepository).
    op.bulk_insert(
        sa.table("log_head", sa.column("id", sa.Integer), sa.column("tree_size", sa.BigInteger)),
        [{"id": 1, "tree_size": 0}],
    )
    op.create_table(
        "log_tiles",
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("index", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "index", name=op.f("pk_log_tiles")),
    )
    op.create_table(
        "map_leaves",
        sa.Column("key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("certificate_id", sa.String(length=66), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("record_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_map_leaves")),
        sa.UniqueConstraint("certificate_id", name=op.f("uq_map_leaves_certificate_id")),
    )
    with op.batch_alter_table("map_leaves", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_map_leaves_version"), ["version"], unique=False)

    op.create_table(
        "map_nodes",
        sa.Column("position", sa.LargeBinary(length=33), nullable=False),
        sa.Column("data", sa.LargeBinary(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_map_nodes")),
    )
    with op.batch_alter_table("map_nodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_map_nodes_version"), ["version"], unique=False)

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_api_keys_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_issuer_id"), ["issuer_id"], unique=False)

    op.create_table(
        "certificates",
        sa.Column("id", sa.String(length=66), nullable=False),
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("record_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("holder_name", sa.String(length=300), nullable=False),
        sa.Column("holder_tax_code", sa.String(length=40), nullable=True),
        sa.Column("supersedes", sa.String(length=66), nullable=True),
        sa.Column("superseded_by", sa.String(length=66), nullable=True),
        sa.Column("last_event_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_certificates_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("issuer_id", "number", name=op.f("uq_certificates_issuer_id")),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index("ix_certificates_holder_name", ["holder_name"], unique=False)
        batch_op.create_index("ix_certificates_holder_tax_code", ["holder_tax_code"], unique=False)
        batch_op.create_index(
            "ix_certificates_kind_valid_until", ["kind", "valid_until"], unique=False
        )

    op.create_table(
        "issuer_keys",
        sa.Column("key_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("private_key_enc", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
        sa.Column("retired_at_seq", sa.BigInteger(), nullable=True),
        sa.Column("valid_from_block", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at_block", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_issuer_keys_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_issuer_keys")),
    )
    with op.batch_alter_table("issuer_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_issuer_keys_issuer_id"), ["issuer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("issuer_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issuer_keys_issuer_id"))

    op.drop_table("issuer_keys")
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index("ix_certificates_kind_valid_until")
        batch_op.drop_index("ix_certificates_holder_tax_code")
        batch_op.drop_index("ix_certificates_holder_name")

    op.drop_table("certificates")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_issuer_id"))

    op.drop_table("api_keys")
    with op.batch_alter_table("map_nodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_map_nodes_version"))

    op.drop_table("map_nodes")
    with op.batch_alter_table("map_leaves", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_map_leaves_version"))

    op.drop_table("map_leaves")
    op.drop_table("log_tiles")
    op.drop_table("log_head")
    op.drop_table("issuers")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_supersedes_seq")
        batch_op.drop_index("ix_events_certificate_id_seq")

    op.drop_table("events")
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkpoints_state"))

    op.drop_table("checkpoints")
