"""Issuers and their signing keys.

An issuer is admitted with an Ed25519 signing key (sealed at rest with the key-encryption key)
and a first API key: a token of its system officer account (`registry.accounts`; only its hash
is stored). A rotation retires the active key under the log
head lock, so no event is signed with it afterwards; the anchoring worker registers new keys on
chain and revokes a retired one once every event it signed is anchored.
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

from registry.accounts import OPERATOR, record_audit, system_officer_token
from registry.clock import naive_utc, utc_now
from registry.core.events import issuer_key_id
from registry.core.governance import Admission
from registry.db import models
from registry.db.engine import reading
from registry.db.repositories import IssuerRepository, LogRepository
from registry.errors import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
)
from registry.keys import KeyEncryptor
from registry.records import CertificateKind

__all__ = ["IssuerCreated", "IssuerSigner", "Issuers"]

_ISSUER_ID: Final = re.compile(r"[a-z0-9][a-z0-9-]{1,62}[a-z0-9]")


@dataclass(frozen=True)
class IssuerCreated:
    issuer_id: str
    key_id: bytes
    public_key: bytes
    api_key: str  # shown once


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
        transaction: made (with a hosted signing key, until key statements are accepted) if it
        is new, its names, accreditation and kinds replaced otherwise."""
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
        session.flush()  # the key row refers to the issuer row
        self._new_key(session, admission.issuer_id, now)

    def rotate_key(self, issuer_id: str) -> bytes:
        """Retire the issuer's signing key and make a new one; return the new key id.

        The anchoring worker registers the new key on chain, and revokes the old one once every
        event it signed is anchored, so those events stay valid.
        """
        now = naive_utc(self._clock())
        with self._sessions.begin() as session:
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

    def signer(self, session: Session, issuer_id: str) -> IssuerSigner:
        """The issuer's active signing key, opened once per process and kept."""
        row = IssuerRepository(session).active_key(issuer_id)
        if row is None:
            raise ForbiddenError(f"issuer {issuer_id}: got no active signing key, want one")
        with self._keys_lock:
            private = self._signing_keys.get(row.key_id)
            if private is None:
                private = self._encryptor.open(row.private_key_enc, key_id=row.key_id)
                self._signing_keys[row.key_id] = private
        return IssuerSigner(issuer_id=issuer_id, key_id=row.key_id, private_key=private)

    # -- helpers ----------------------------------------------------------------------------------

    def _new_key(self, session: Session, issuer_id: str, now: dt.datetime) -> models.IssuerKey:
        private = Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        key_id = issuer_key_id(public)
        row = models.IssuerKey(
            key_id=key_id,
            issuer_id=issuer_id,
            public_key=public,
            private_key_enc=self._encryptor.seal(private, key_id=key_id),
            state="active",
            created_at=now,
            retired_at=None,
            retired_at_seq=None,
            valid_from_block=None,
            revoked_at_block=None,
        )
        session.add(row)
        return row
