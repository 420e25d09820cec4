"""Issuers and their signing keys.

An issuer admitted by the operator (the former `certreg issuer add`, before the authority's
statements) gets an Ed25519 signing key (sealed at rest with the key-encryption key) and a first
API key: a token of its system officer account (`registry.accounts`; only its hash is stored).
A CB the
authority's statements admitted proposes its keys instead (`propose_key`): one the registry
makes and seals (custody `hosted`), or the public half of one the CB keeps (`held`, with a
signature proving it holds the private half); a proposed key signs nothing until the
authority's `approve_key` is appended (docs/spec.md §3a.1, §11.11). A rotation retires the
active key under the log head lock, so no event is signed with it afterwards; the anchoring
worker registers approved keys on chain, revokes a retired one once every event it signed is
anchored, and a revoked one (the authority's `revoke_key`) from the block of the first
checkpoint that anchored a refused event.
"""

import datetime as dt
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.orm import Session, sessionmaker

from registry.accounts import OPERATOR, Actor, Role, record_audit, system_officer_token
from registry.clock import naive_utc, utc_now
from registry.core import ed25519
from registry.core.canonical import canonical_json
from registry.core.encoding import b64, hex0x
from registry.core.events import issuer_key_id
from registry.core.governance import Admission, ApproveKey, Custody, RevokeKey
from registry.db import models
from registry.db.engine import reading
from registry.db.repositories import CheckpointRepository, IssuerRepository, LogRepository
from registry.errors import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
)
from registry.keys import KeyEncryptor
from registry.records import CertificateKind

__all__ = ["IssuerCreated", "IssuerSigner", "Issuers", "KeyView", "possession_message"]

_ISSUER_ID: Final = re.compile(r"[a-z0-9][a-z0-9-]{1,62}[a-z0-9]")


@dataclass(frozen=True)
class IssuerCreated:
    issuer_id: str
    key_id: bytes
    public_key: bytes
    api_key: str  # shown once


@dataclass(frozen=True)
class KeyView:
    """One of a CB's signing keys, as anyone may read it (the public half only)."""

    issuer_id: str
    key_id: bytes
    public_key: bytes
    custody: str
    state: str
    created_at: dt.datetime
    approved_seq: int | None
    revoked_from_seq: int | None
    valid_from_block: int | None
    revoked_at_block: int | None

    @classmethod
    def from_row(cls, row: models.IssuerKey) -> "KeyView":
        return cls(
            issuer_id=row.issuer_id,
            key_id=row.key_id,
            public_key=row.public_key,
            custody=row.custody,
            state=row.state,
            created_at=row.created_at,
            approved_seq=row.approved_seq,
            revoked_from_seq=row.revoked_from_seq,
            valid_from_block=row.valid_from_block,
            revoked_at_block=row.revoked_at_block,
        )


def possession_message(issuer_id: str, key_id: bytes) -> bytes:
    """What a CB signs with a key it holds to propose it (docs/spec.md §11.11): canonical JSON
    naming the CB and the key, so a signature made for one cannot propose it for another."""
    return canonical_json(
        {"purpose": "certreg-key-possession", "issuer_id": issuer_id, "key_id": hex0x(key_id)}
    )


@dataclass(frozen=True)
class IssuerSigner:
    """An issuer's active signing key, opened."""

    issuer_id: str
    key_id: bytes
    private_key: Ed25519PrivateKey


class Issuers:
    """Admission, signing keys and their rotation, over one database."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        kek: bytes,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self._reading = reading(sessions)  # no write lock on SQLite
        self._encryptor = KeyEncryptor(kek)
        self._clock = clock
        self._signing_keys: dict[bytes, Ed25519PrivateKey] = {}
        self._keys_lock = threading.Lock()

    def add_issuer(
        self,
        *,
        issuer_id: str,
        name_vi: str,
        name_en: str,
        accreditation: str,
        kinds: Iterable[str],
        api_key_label: str = "initial",
    ) -> IssuerCreated:
        """Admit an issuer: generate its signing key and its first API key."""
        if _ISSUER_ID.fullmatch(issuer_id) is None:
            raise InvalidRequestError(
                f"issuer_id: got {issuer_id!r}, want 3-64 of a-z 0-9 and inner hyphens"
            )
        kind_values = sorted({CertificateKind(kind).value for kind in kinds})
        if not kind_values:
            raise InvalidRequestError("kinds: got none, want at least one certificate kind")
        now = naive_utc(self._clock())
        with self._sessions.begin() as session:
            issuers = IssuerRepository(session)
            if issuers.get(issuer_id) is not None:
                raise ConflictError(f"issuer {issuer_id}: got a second admission, want one")
            issuers.add(
                models.Issuer(
                    id=issuer_id,
                    name_vi=name_vi,
                    name_en=name_en,
                    accreditation=accreditation,
                    kinds=kind_values,
                    created_at=now,
                )
            )
            session.flush()  # the key and API key rows refer to the issuer row
            key_row = self._new_key(session, issuer_id, now)
            # Its first API key: a token of the CB's system officer account.
            token_row, token = system_officer_token(
                session, issuer_id, label=api_key_label, now=now
            )
            record_audit(
                session,
                OPERATOR,
                "issuer.add",
                now=now,
                target=f"issuer:{issuer_id}",
                issuer_id=issuer_id,
                detail={"kinds": kind_values, "token": token_row.id},
            )
        return IssuerCreated(
            issuer_id=issuer_id,
            key_id=key_row.key_id,
            public_key=key_row.public_key,
            api_key=token,
        )

    def admit_from_statement(
        self, session: Session, admission: Admission, *, now: dt.datetime
    ) -> None:
        """The CB's row as an `admit` or `change_scope` statement names it, inside the caller's
        transaction: made if it is new (without a key: the CB proposes one, the authority
        approves it), its names, accreditation and kinds replaced otherwise."""
        issuers = IssuerRepository(session)
        row = issuers.get(admission.issuer_id)
        accreditation = f"{admission.accreditation_body} {admission.accreditation_number}"
        kinds = sorted(admission.scope.kinds)
        if row is not None:
            row.name_vi = admission.name_vi
            row.name_en = admission.name_en
            row.accreditation = accreditation[:100]
            row.kinds = kinds
            return
        issuers.add(
            models.Issuer(
                id=admission.issuer_id,
                name_vi=admission.name_vi,
                name_en=admission.name_en,
                accreditation=accreditation[:100],
                kinds=kinds,
                created_at=now,
            )
        )

    # -- keys the authority approves --------------------------------------------------------------

    def keys(self, issuer_id: str) -> list[KeyView]:
        """The CB's keys, oldest first; `NotFoundError` for an unknown CB."""
        with self._reading() as session:
            self.issuer(session, issuer_id)
            return [KeyView.from_row(row) for row in IssuerRepository(session).keys(issuer_id)]

    def propose_key(
        self,
        issuer_id: str,
        *,
        custody: Custody,
        actor: Actor,
        public_key: bytes | None = None,
        proof: bytes | None = None,
    ) -> KeyView:
        """A key for the authority to approve: made and sealed here (`hosted`), or the public
        half of one the CB keeps (`held`) with `proof`, its signature over
        `possession_message`. It signs nothing until the authority's `approve_key`. Proposed
        by the CB's admin, or by an authority admin (who approves it anyway)."""
        principal = actor.principal
        if principal is not None and (
            principal.setup_only
            or not (
                principal.role is Role.AUTHORITY_ADMIN
                or (principal.role is Role.CB_ADMIN and principal.issuer_id == issuer_id)
            )
        ):
            raise ForbiddenError(
                f"keys of {issuer_id}: got a {principal.role.value}"
                f"{'' if principal.issuer_id is None else ' of ' + principal.issuer_id}, want "
                "an admin of that CB or an authority admin"
            )
        now = naive_utc(self._clock())
        with self._sessions.begin() as session:
            self.issuer(session, issuer_id)
            if session.get(models.Admission, issuer_id) is None:
                raise ConflictError(
                    f"issuer {issuer_id}: got a key proposal for a CB the authority's statements "
                    "never admitted, want an admitted CB (its keys are approved by the authority)"
                )
            if custody is Custody.HOSTED:
                if public_key is not None or proof is not None:
                    raise InvalidRequestError(
                        "public_key: got one for a hosted key, want none (the registry makes it)"
                    )
                row = self._new_key(session, issuer_id, now, state="proposed")
            else:
                row = self._held_key(session, issuer_id, now, public_key=public_key, proof=proof)
            record_audit(
                session,
                actor,
                "key.propose",
                now=now,
                target=f"key:{hex0x(row.key_id)}",
                issuer_id=issuer_id,
                detail={"custody": row.custody},
            )
            return KeyView.from_row(row)

    def approve_from_statement(self, session: Session, statement: ApproveKey, *, seq: int) -> None:
        """The authority approved a key (an `approve_key` appended at `seq`, the log head
        locked by the caller): the key becomes the CB's active one, retiring the one before; a
        key already active (made before the authority approved keys) only gains its approval."""
        row = IssuerRepository(session).key(statement.key_id)
        if row is None or row.issuer_id != statement.issuer_id:
            raise NotFoundError(
                f"approve_key: got key {hex0x(statement.key_id)}, want a key "
                f"{statement.issuer_id} proposed (POST /v1/issuers/{statement.issuer_id}/keys)"
            )
        if row.public_key != statement.public_key or row.custody != statement.custody.value:
            raise ConflictError(
                f"approve_key: got custody {statement.custody.value} of "
                f"{b64(statement.public_key)}, want the key as proposed: custody {row.custody} "
                f"of {b64(row.public_key)}"
            )
        if row.state not in ("proposed", "active") or row.approved_seq is not None:
            raise ConflictError(
                f"approve_key: got key {hex0x(row.key_id)} in state {row.state}, want a "
                "proposed key (or an active one not yet approved)"
            )
        row.approved_seq = seq
        if row.state == "proposed":
            old = IssuerRepository(session).active_key(statement.issuer_id)
            if old is not None:
                # Under the head lock: no event is signed with it after this position.
                old.state = "retired"
                old.retired_at = naive_utc(self._clock())
                old.retired_at_seq = seq
            session.flush()  # one active key per CB at every moment
            row.state = "active"

    def revoke_from_statement(self, session: Session, statement: RevokeKey) -> None:
        """The authority revoked a key from log position `revoked_from_seq`, which must be the
        size of an anchored checkpoint (or 0): the chain revokes by block, and only a checkpoint
        boundary separates the events first anchored before a block from those after it."""
        row = IssuerRepository(session).key(statement.key_id)
        if row is None or row.issuer_id != statement.issuer_id or row.approved_seq is None:
            raise NotFoundError(
                f"revoke_key: got key {hex0x(statement.key_id)}, want a key the authority "
                f"approved for {statement.issuer_id}"
            )
        wanted = statement.revoked_from_seq
        below = CheckpointRepository(session).at_or_before(tree_size=wanted)
        boundary = 0 if below is None else below.tree_size
        if wanted != boundary:
            raise InvalidRequestError(
                f"revoked_from_seq: got {wanted}, want the size of an anchored checkpoint (e.g. "
                f"{boundary}, the last one at or below it): the chain revokes a key from the "
                "block of a checkpoint"
            )
        row.state = "revoked"
        row.revoked_from_seq = statement.revoked_from_seq
        if row.retired_at is None:
            row.retired_at = naive_utc(self._clock())

    def rotate_key(self, issuer_id: str) -> bytes:
        """Retire the issuer's signing key and make a new one; return the new key id.

        The anchoring worker registers the new key on chain, and revokes the old one once every
        event it signed is anchored, so those events stay valid. A CB the authority's
        statements admitted gets a proposed key instead, active once the authority approves it.
        """
        now = naive_utc(self._clock())
        with self._sessions.begin() as session:
            if session.get(models.Admission, issuer_id) is not None:
                self.issuer(session, issuer_id)
                return self._new_key(session, issuer_id, now, state="proposed").key_id
            # Under the head lock no event can be signed with the old key after this point.
            head = LogRepository(session).lock_head()
            self.issuer(session, issuer_id)
            old = IssuerRepository(session).active_key(issuer_id)
            if old is not None:
                old.state = "retired"
                old.retired_at = now
                old.retired_at_seq = head
            session.flush()
            return self._new_key(session, issuer_id, now).key_id

    # -- for the certificates' lifecycle, inside its transaction ---------------------------------

    def issuer(self, session: Session, issuer_id: str) -> models.Issuer:
        """The issuer's row; `NotFoundError` if there is none."""
        issuer = IssuerRepository(session).get(issuer_id)
        if issuer is None:
            raise NotFoundError(f"issuer {issuer_id}: got an unknown id")
        return issuer

    def signer(self, session: Session, issuer_id: str, *, approved: bool = False) -> IssuerSigner:
        """The issuer's active hosted signing key, opened once per process and kept; with
        `approved`, one the authority approved (an event naming an admission needs it)."""
        row = self.active_key(session, issuer_id, approved=approved)
        if row.private_key_enc is None:
            raise ForbiddenError(
                f"issuer {issuer_id}: got a request for the registry to sign, want a statement "
                "the CB signed itself: it keeps its key (custody held; POST "
                "/v1/certificates/statements)"
            )
        with self._keys_lock:
            private = self._signing_keys.get(row.key_id)
            if private is None:
                private = self._encryptor.open(row.private_key_enc, key_id=row.key_id)
                self._signing_keys[row.key_id] = private
        return IssuerSigner(issuer_id=issuer_id, key_id=row.key_id, private_key=private)

    @staticmethod
    def active_key(session: Session, issuer_id: str, *, approved: bool) -> models.IssuerKey:
        """The issuer's active key; with `approved`, one the authority approved."""
        row = IssuerRepository(session).active_key(issuer_id)
        if row is None:
            raise ForbiddenError(
                f"issuer {issuer_id}: got no active signing key, want one the authority approved"
            )
        if approved and row.approved_seq is None:
            raise ForbiddenError(
                f"issuer {issuer_id}: got key {hex0x(row.key_id)}, not approved by the "
                "authority, want an approved key to sign under the authority's admission"
            )
        return row

    # -- helpers ----------------------------------------------------------------------------------

    def _held_key(
        self,
        session: Session,
        issuer_id: str,
        now: dt.datetime,
        *,
        public_key: bytes | None,
        proof: bytes | None,
    ) -> models.IssuerKey:
        if public_key is None or proof is None:
            raise InvalidRequestError(
                "public_key, proof: got none, want the public key the CB holds and its "
                "signature over the possession message (docs/spec.md §11.11)"
            )
        if not ed25519.is_prime_order_point(public_key):
            raise InvalidRequestError(
                f"public_key: got {b64(public_key)}, want an Ed25519 key of the prime-order "
                "subgroup"
            )
        key_id = issuer_key_id(public_key)
        if not ed25519.verify(public_key, proof, possession_message(issuer_id, key_id)):
            raise InvalidRequestError(
                "proof: got a signature that does not verify, want the key's signature over "
                f"the possession message of {issuer_id} and {hex0x(key_id)}"
            )
        if IssuerRepository(session).key(key_id) is not None:
            raise ConflictError(f"public_key: got key {hex0x(key_id)} again, want a new key")
        row = models.IssuerKey(
            key_id=key_id,
            issuer_id=issuer_id,
            public_key=public_key,
            private_key_enc=None,
            custody=Custody.HELD.value,
            state="proposed",
            created_at=now,
            retired_at=None,
            retired_at_seq=None,
            valid_from_block=None,
            revoked_at_block=None,
        )
        session.add(row)
        session.flush()
        return row

    def _new_key(
        self, session: Session, issuer_id: str, now: dt.datetime, *, state: str = "active"
    ) -> models.IssuerKey:
        private = Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        key_id = issuer_key_id(public)
        row = models.IssuerKey(
            key_id=key_id,
            issuer_id=issuer_id,
            public_key=public,
            private_key_enc=self._encryptor.seal(private, key_id=key_id),
            custody=Custody.HOSTED.value,
            state=state,
            created_at=now,
            retired_at=None,
            retired_at_seq=None,
            valid_from_block=None,
            revoked_at_block=None,
        )
        session.add(row)
        session.flush()
        return row
