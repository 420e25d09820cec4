"""Accounts with roles, API tokens that belong to accounts (scope, expiry, last use), password
login sessions, and the append-only audit trail (docs/security.md §8).

An existing registry's API keys become tokens of one system account per certification body
(role `cb_officer`, named after the body), so they keep working; they expire a year after the
migration, like any token must.

Revision ID: 0004
Revises: 0003
"""

import datetime as dt
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: how long an API key made before accounts keeps working
_LEGACY_TOKEN_DAYS = 365

_APPEND_ONLY_SQLITE = """
CREATE TRIGGER audit_trail_{what}_refused BEFORE {WHAT} ON audit_trail
BEGIN SELECT RAISE(ABORT, 'audit_trail is append-only: got {WHAT}, want INSERT'); END
"""
_APPEND_ONLY_POSTGRESQL_FUNCTION = """
CREATE FUNCTION audit_trail_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_trail is append-only: got %, want INSERT', TG_OP;
END $$
"""
_APPEND_ONLY_POSTGRESQL = """
CREATE TRIGGER audit_trail_append_only BEFORE UPDATE OR DELETE ON audit_trail
FOR EACH STATEMENT EXECUTE FUNCTION audit_trail_append_only()
"""


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("issuer_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("login", sa.String(length=100), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("totp_secret", sa.LargeBinary(), nullable=True),
        sa.Column("totp_enabled", sa.Boolean(), nullable=False),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.Column("disabled_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_accounts_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("login", name=op.f("uq_accounts_login")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_issuer_id"), ["issuer_id"], unique=False)

    op.create_table(
        "login_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("csrf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("address", sa.String(length=100), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_login_sessions_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_sessions")),
    )
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_sessions_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "audit_trail",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("actor_issuer_id", sa.String(length=64), nullable=True),
        sa.Column("issuer_id", sa.String(length=64), nullable=True),
        sa.Column("credential", sa.String(length=48), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("address", sa.String(length=100), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_trail")),
    )
    with op.batch_alter_table("audit_trail", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_trail_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_trail_account_id"), ["account_id"])
        batch_op.create_index(batch_op.f("ix_audit_trail_issuer_id"), ["issuer_id"])

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("role", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("purpose", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("revoked_by", sa.String(length=32), nullable=True))
        batch_op.alter_column("issuer_id", existing_type=sa.String(length=64), nullable=True)

    _accounts_for_existing_keys()

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        for column, kind in (
            ("account_id", sa.String(length=32)),
            ("role", sa.String(length=20)),
            ("purpose", sa.String(length=16)),
            ("expires_at", sa.DateTime()),
        ):
            batch_op.alter_column(column, existing_type=kind, nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_api_keys_account_id_accounts"), "accounts", ["account_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_api_keys_account_id"), ["account_id"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(_APPEND_ONLY_POSTGRESQL_FUNCTION)
        op.execute(_APPEND_ONLY_POSTGRESQL)
    else:
        for what in ("update", "delete"):
            op.execute(_APPEND_ONLY_SQLITE.format(what=what, WHAT=what.upper()))


def _accounts_for_existing_keys() -> None:
    """One system officer account per body that has API keys; its keys become its tokens."""
    bind = op.get_bind()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    expires = now + dt.timedelta(days=_LEGACY_TOKEN_DAYS)
    issuers = bind.execute(sa.text("SELECT DISTINCT issuer_id FROM api_keys")).scalars().all()
    for issuer_id in issuers:
        account_id = secrets.token_hex(8)
        bind.execute(
            sa.text(
                "INSERT INTO accounts (id, role, issuer_id, name, totp_enabled, failed_logins, "
                "created_at) VALUES (:id, 'cb_officer', :issuer, :name, :no, 0, :now)"
            ),
            {
                "id": account_id,
                "issuer": issuer_id,
                "name": f"{issuer_id} (API keys made before accounts)",
                "no": False,
                "now": now,
            },
        )
        bind.execute(
            sa.text(
                "UPDATE api_keys SET account_id = :account, role = 'cb_officer', "
                "purpose = 'api', expires_at = :expires WHERE issuer_id = :issuer"
            ),
            {"account": account_id, "expires": expires, "issuer": issuer_id},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_trail_append_only ON audit_trail")
        op.execute("DROP FUNCTION audit_trail_append_only()")
    else:
        for what in ("update", "delete"):
            op.execute(f"DROP TRIGGER audit_trail_{what}_refused")
    # Tokens of accounts without a body (authority, auditors) cannot be API keys of 0003.
    op.execute("DELETE FROM api_keys WHERE issuer_id IS NULL")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_account_id"))
        batch_op.drop_constraint(batch_op.f("fk_api_keys_account_id_accounts"), type_="foreignkey")
        for column in ("revoked_by", "last_used_at", "expires_at", "purpose", "role"):
            batch_op.drop_column(column)
        batch_op.drop_column("account_id")
        batch_op.alter_column("issuer_id", existing_type=sa.String(length=64), nullable=False)
    op.drop_table("audit_trail")
    op.drop_table("login_sessions")
    op.drop_table("accounts")
