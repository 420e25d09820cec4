"""The tables. Hashes and keys are raw bytes; ids are the strings the API shows.

Dates and times: `DateTime` columns hold naive UTC (SQLite has no time zones); the repositories
convert at the boundary.
"""

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: dict[Any, Any] = {  # noqa: RUF012 (SQLAlchemy reads it on the class)
        dt.datetime: DateTime(),
        dt.date: Date(),
        bytes: LargeBinary(),
        int: BigInteger(),
    }


class Issuer(Base):
    """A certification body, test or calibration lab admitted by the authority."""

    __tablename__ = "issuers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_vi: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300))
    accreditation: Mapped[str] = mapped_column(String(100))
    kinds: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime]


class IssuerSettings(Base):
    """A CB's own settings, set by its admins (docs/spec.md §11.12). Apart from `issuers`, whose
    row the authority's statements write: a CB's admin never writes the authority's row. No row
    means every setting at its default."""

    __tablename__ = "issuer_settings"

    issuer_id: Mapped[str] = mapped_column(ForeignKey("issuers.id"), primary_key=True)
    #: a certificate is issued only from a draft a second person of the CB approved
    review_required: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[dt.datetime]
    updated_by: Mapped[str | None] = mapped_column(String(32))


class Draft(Base):
    """A certificate being prepared by a CB's person and decided by another (docs/spec.md
    §11.12): one submission of either format, validated as issuance validates it. `state` is
    draft, submitted, rejected, issued or withdrawn; `revision` counts the edits, and each
    change names the revision it was made against."""

    __tablename__ = "drafts"
    __table_args__ = (
        Index("ix_drafts_issuer_id_state_created_at", "issuer_id", "state", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    issuer_id: Mapped[str] = mapped_column(ForeignKey("issuers.id"))
    state: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    number: Mapped[str] = mapped_column(String(100))
    #: the validated submission as JSON (its `format` member says which)
    submission: Mapped[str] = mapped_column(Text)
    #: a replacement: the certificate it supersedes, and the reason the event states
    supersedes: Mapped[str | None] = mapped_column(String(66))
    reason: Mapped[str | None] = mapped_column(String(400))
    prepared_by: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    submitted_at: Mapped[dt.datetime | None]
    #: the last decision (approval or rejection), by whom, when, and its comment
    reviewed_by: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))
    reviewed_at: Mapped[dt.datetime | None]
    comment: Mapped[str | None] = mapped_column(String(1000))
    withdrawn_by: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))
    withdrawn_at: Mapped[dt.datetime | None]
    #: the certificate it became
    certificate_id: Mapped[str | None] = mapped_column(String(66))


class IssuanceCount(Base):
    """Certificates an issuer issued on one UTC day, counted only while a daily quota is set
    (CERTREG_ISSUANCE_QUOTA_PER_DAY): the count every replica checks, under the log's lock."""

    __tablename__ = "issuance_counts"

    issuer_id: Mapped[str] = mapped_column(ForeignKey("issuers.id"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    issued: Mapped[int]


class IssuerKey(Base):
    """An issuer's Ed25519 signing key; the private half encrypted at rest (AES-GCM)."""

    __tablename__ = "issuer_keys"

    key_id: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    issuer_id: Mapped[str] = mapped_column(ForeignKey("issuers.id"), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    #: sealed with the key-encryption key; none for a key the CB holds itself
    private_key_enc: Mapped[bytes | None]
    # proposed: waits for the authority's approve_key; active: signs new events; retired:
    # replaced by a newer key, kept to verify old events; revoked: by the authority's revoke_key.
    state: Mapped[str] = mapped_column(String(16))
    #: who keeps the private half: "hosted" (the registry) or "held" (the CB)
    custody: Mapped[str] = mapped_column(String(8), server_default="hosted")
    #: the log position of the authority's approve_key, and of the first event its revoke_key
    #: refuses (docs/spec.md §3a.1)
    approved_seq: Mapped[int | None]
    revoked_from_seq: Mapped[int | None]
    created_at: Mapped[dt.datetime]
    retired_at: Mapped[dt.datetime | None]
    # The log size when it was retired: every event it signed has a smaller seq.
    retired_at_seq: Mapped[int | None]
    # Chain registration (docs/spec.md §7.5, issuer keys), filled when the transaction lands.
    valid_from_block: Mapped[int | None]
    revoked_at_block: Mapped[int | None]


class Account(Base):
    """A person's or a system's account (docs/security.md §8): one role, and for the roles of
    a certification body the body it acts for. Never deleted: disabled, so the audit trail
    keeps naming it."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    issuer_id: Mapped[str | None] = mapped_column(ForeignKey("issuers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: the password login's name, NFC and case-folded; none for a system account
    login: Mapped[str | None] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    #: the TOTP secret sealed with the key-encryption key; `totp_enabled` once confirmed
    totp_secret: Mapped[bytes | None]
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    #: the last TOTP time step accepted: a code is good once
    totp_last_step: Mapped[int | None]
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str | None] = mapped_column(String(32))
    disabled_at: Mapped[dt.datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(500))


class ApiKey(Base):
    """An API token of an account: only a SHA-256 of the secret is stored. Its scope (role and
    certification body) is fixed when it is made; `purpose` `setup` is the one-time token that
    lets a new account's holder set a password or make a first token."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    issuer_id: Mapped[str | None] = mapped_column(ForeignKey("issuers.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    label: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(32))


class LoginSession(Base):
    """A password login's session: the cookie's secret and the CSRF token, hashed."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    csrf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    address: Mapped[str | None] = mapped_column(String(100))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ended_at: Mapped[dt.datetime | None]


class AuditEntry(Base):
    """One change made by a person or system, append-only (a trigger refuses UPDATE and
    DELETE on both databases): who, when, what, from where."""

    __tablename__ = "audit_trail"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    account_id: Mapped[str | None] = mapped_column(String(32), index=True)
    role: Mapped[str | None] = mapped_column(String(20))
    #: the certification body the actor acts for, and the one the change concerns
    actor_issuer_id: Mapped[str | None] = mapped_column(String(64))
    issuer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    credential: Mapped[str | None] = mapped_column(String(48))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    address: Mapped[str | None] = mapped_column(String(100))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class Certificate(Base):
    """A certificate: its full record (canonical JSON, as hashed) and its current status."""

    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("issuer_id", "number"),
        Index("ix_certificates_holder_name", "holder_name"),
        Index("ix_certificates_holder_tax_code", "holder_tax_code"),
        Index("ix_certificates_kind_valid_until", "kind", "valid_until"),
    )

    id: Mapped[str] = mapped_column(String(66), primary_key=True)
    issuer_id: Mapped[str] = mapped_column(ForeignKey("issuers.id"))
    number: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    record: Mapped[str] = mapped_column(Text)
    record_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    status: Mapped[str] = mapped_column(String(16))
    issued_on: Mapped[dt.date]
    valid_from: Mapped[dt.date]
    valid_until: Mapped[dt.date | None]
    holder_name: Mapped[str] = mapped_column(String(500))  # records.Text
    holder_tax_code: Mapped[str | None] = mapped_column(String(100))  # records.ShortText
    supersedes: Mapped[str | None] = mapped_column(String(66))
    superseded_by: Mapped[str | None] = mapped_column(String(66))
    last_event_seq: Mapped[int]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class Event(Base):
    """One log entry. `seq` is the leaf index; `entry` the exact leaf bytes (canonical JSON)."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_certificate_id_seq", "certificate_id", "seq"),
        Index("ix_events_supersedes_seq", "supersedes", "seq"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(24))
    certificate_id: Mapped[str] = mapped_column(String(66))
    supersedes: Mapped[str | None] = mapped_column(String(66))
    issuer_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime]
    entry: Mapped[bytes]


class LogHead(Base):
    """One row: the log's size. Locked FOR UPDATE by every append so seq has no gaps."""

    __tablename__ = "log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tree_size: Mapped[int]


class LogTile(Base):
    """A C2SP tile of the log tree (see registry.core.log)."""

    __tablename__ = "log_tiles"

    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    data: Mapped[bytes]


class MapNode(Base):
    """A status-map node as of the latest anchored checkpoint: an internal node's hash (32
    bytes) or a leaf's key ‖ value (64 bytes), at its position (see registry.core.statusmap).

    `version` is the index of the checkpoint that last wrote it, so a process caching the map
    can catch up by reading only the rows newer than its copy.
    """

    __tablename__ = "map_nodes"

    position: Mapped[bytes] = mapped_column(LargeBinary(33), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary(64))
    version: Mapped[int] = mapped_column(BigInteger, index=True)


class MapLeaf(Base):
    """The preimage of each status-map leaf as of the latest anchored checkpoint."""

    __tablename__ = "map_leaves"

    key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    certificate_id: Mapped[str] = mapped_column(String(66), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    record_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    event_seq: Mapped[int]
    version: Mapped[int] = mapped_column(BigInteger, index=True)


class Admission(Base):
    """A CB's admission as the authority's statements in the log set it, up to the log's head
    (docs/spec.md §3a): what issuance is checked against. CBs admitted by the former `certreg
    issuer add` before the authority's statements have no row."""

    __tablename__ = "admissions"

    issuer_id: Mapped[str] = mapped_column(ForeignKey("issuers.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    admission_seq: Mapped[int]
    admission_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    status_seq: Mapped[int]
    #: the `at` of the CB's latest statement, and the hashes of its statements of that second:
    #: a statement must be no earlier and not one of them (appended once, never replayed)
    last_at: Mapped[dt.datetime]
    last_hashes: Mapped[list[str]] = mapped_column(JSON)
    #: the statement in force (`admit` or `change_scope`), its canonical JSON
    statement: Mapped[str] = mapped_column(Text)


class MapIssuerLeaf(Base):
    """The preimage of each CB's status-map leaf as of the latest anchored checkpoint."""

    __tablename__ = "map_issuer_leaves"

    key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    issuer_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    admission_seq: Mapped[int]
    admission_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    status_seq: Mapped[int]
    version: Mapped[int] = mapped_column(BigInteger, index=True)


class Checkpoint(Base):
    """A signed checkpoint and where its anchoring stands: prepared → sent → anchored."""

    __tablename__ = "checkpoints"

    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    tree_size: Mapped[int] = mapped_column(BigInteger, unique=True)
    log_root: Mapped[bytes] = mapped_column(LargeBinary(32))
    map_root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[dt.datetime]
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    nonce: Mapped[int | None]
    sent_at: Mapped[dt.datetime | None]
    block_number: Mapped[int | None]
    block_timestamp: Mapped[int | None]
    anchored_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class ImportJob(Base):
    """A spreadsheet of certificates a CB uploaded (docs/spec.md §11.13): its cells as read,
    the column mapping, what checking the rows found, and — once someone confirmed it — the
    progress and outcome of issuing them, row by row."""

    __tablename__ = "import_jobs"
    __table_args__ = (Index("ix_import_jobs_issuer_sha256", "issuer_id", "file_sha256"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    issuer_id: Mapped[str] = mapped_column(ForeignKey("issuers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(200))
    file_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    #: uploaded | queued | running | done | failed
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str | None] = mapped_column(String(32))
    #: {"headers": [...], "rows": [[...], ...], "first_row": n}: the cells as read
    table: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: header → column key
    mapping: Mapped[dict[str, str]] = mapped_column(JSON)
    rows: Mapped[int]
    valid: Mapped[int]
    #: [[row, column, message_vi, message_en], ...] of the last check
    errors: Mapped[list[list[Any]]] = mapped_column(JSON)
    confirmed_at: Mapped[dt.datetime | None]
    confirmed_by: Mapped[str | None] = mapped_column(String(32))
    #: rows done so far, and of them issued now, issued before (the same record), refused
    done: Mapped[int] = mapped_column(default=0)
    issued: Mapped[int] = mapped_column(default=0)
    existing: Mapped[int] = mapped_column(default=0)
    refused: Mapped[int] = mapped_column(default=0)
    #: [[row, number, certificate_id | null, outcome, message], ...] once rows are done
    results: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)
    finished_at: Mapped[dt.datetime | None]
    #: set by the process issuing the job after each chunk: a job left `running` whose
    #: heartbeat is old was left by a process that stopped, and another may take it over
    heartbeat_at: Mapped[dt.datetime | None]
    message: Mapped[str | None] = mapped_column(Text)
