"""A Python client of the registry's API for certification bodies (docs/spec.md §3.1, §11.11).

With a key the CB keeps (`signing_key`), every change is signed here, on the CB's machine: the
record is built and hashed here, the statement signed without `seq`, and only the signed
statement and the record leave — the registry appends them and cannot forge them. A batch is
signed in one go, then sent as one request (all or none). Without a key the registry signs with
the CB's hosted key, as the plain API does.

`certreg issue|suspend|reinstate|withdraw|supersede` and `certreg signing-key propose` drive
this class.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.core import ed25519
from registry.core.disclosure import hash_record
from registry.core.encoding import b64, parse_hex
from registry.core.events import ISSUER_STATEMENT, Event, EventType, issuer_key_id, sign_event
from registry.errors import RegistryError
from registry.issuers import possession_message
from registry.records import Submission, build_record, record_fields

__all__ = ["ClientError", "KeyHolder", "RegistryClient"]


class ClientError(RegistryError):
    """The registry refused a request, or could not be reached; the message says which."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class KeyHolder:
    """A CB's signing key that the CB keeps, and the CB it signs for."""

    issuer_id: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes_raw()

    @property
    def key_id(self) -> bytes:
        return issuer_key_id(self.public_key)

    def possession_proof(self) -> bytes:
        """The key's signature over the possession message, to propose it."""
        return ed25519.sign(
            ed25519.signing_key(self.private_key),
            possession_message(self.issuer_id, self.key_id),
        )

    def sign(
        self,
        kind: EventType,
        *,
        certificate_id: str,
        record_hash: bytes,
        at: dt.datetime,
        reason: str | None = None,
        supersedes: str | None = None,
    ) -> dict[str, Any]:
        """A signed statement (version 2): the event without `seq` and `admission_seq`."""
        unsigned = Event(
            seq=0,  # not signed: the registry assigns it
            type=kind,
            certificate_id=certificate_id,
            record_hash=record_hash,
            issuer_id=self.issuer_id,
            key_id=self.key_id,
            at=at,
            reason=reason,
            supersedes=supersedes,
            version=ISSUER_STATEMENT,
        )
        return dict(sign_event(unsigned, self.private_key).statement_json())


class RegistryClient:
    """One registry's API, with a CB officer's (or admin's) token."""

    def __init__(
        self,
        api: str,
        *,
        token: str,
        key: KeyHolder | None = None,
        http: httpx2.Client | None = None,
        timeout: float = 60,
    ) -> None:
        self._api = api.rstrip("/")
        self._key = key
        self._http = http or httpx2.Client(timeout=timeout)
        self._headers = {"Authorization": f"Bearer {token}"}

    def close(self) -> None:
        self._http.close()

    def me(self) -> dict[str, Any]:
        """The account the token acts as (`GET /v1/me`): its role and CB."""
        account: dict[str, Any] = self._call("GET", "/v1/me")["account"]
        return account

    # -- keys ------------------------------------------------------------------------------------

    def propose_held_key(self, key: KeyHolder) -> dict[str, Any]:
        """Propose a key the CB keeps, for the authority to approve (a CB admin's call)."""
        return self._call(
            "POST",
            f"/v1/issuers/{key.issuer_id}/keys",
            {
                "custody": "held",
                "public_key": b64(key.public_key),
                "proof": b64(key.possession_proof()),
            },
        )

    def propose_hosted_key(self, issuer_id: str) -> dict[str, Any]:
        """Ask the registry to make a key it keeps for the CB, for the authority to approve."""
        return self._call("POST", f"/v1/issuers/{issuer_id}/keys", {"custody": "hosted"})

    def keys(self, issuer_id: str) -> list[dict[str, Any]]:
        keys: list[dict[str, Any]] = self._call("GET", f"/v1/issuers/{issuer_id}/keys")["keys"]
        return keys

    # -- certificates ----------------------------------------------------------------------------

    def issue(self, submissions: Sequence[Submission]) -> dict[str, Any]:
        """Issue certificates, all or none: signed here with the held key if the client has
        one, else by the registry with the CB's hosted key."""
        if self._key is None:
            return self._call(
                "POST",
                "/v1/certificates/batch",
                {
                    "certificates": [
                        s.model_dump(mode="json", exclude_none=True) for s in submissions
                    ]
                },
            )
        key = self._key
        at = _now()
        items = []
        for submission in submissions:
            record = build_record(submission, issuer_id=key.issuer_id)
            items.append(
                {
                    "record": record,
                    "statement": key.sign(
                        EventType.ISSUE,
                        certificate_id=record_fields(record)["id"],
                        record_hash=hash_record(record),
                        at=at,
                    ),
                }
            )
        return self._call("POST", "/v1/certificates/statements", {"statements": items})

    def supersede(
        self,
        certificate_id: str,
        submission: Submission,
        *,
        reason: str = "renewal",
        note: str | None = None,
    ) -> dict[str, Any]:
        """Issue `submission` as a new certificate replacing `certificate_id`; `reason` is a
        reason code of the API (docs/spec.md §11), `note` free text the log keeps with it."""
        if self._key is None:
            body: dict[str, Any] = {
                "certificate": submission.model_dump(mode="json", exclude_none=True),
                "reason": reason,
            }
            if note is not None:
                body["note"] = note
            return self._call("POST", f"/v1/certificates/{certificate_id}/supersede", body)
        key = self._key
        record = build_record(submission, issuer_id=key.issuer_id, supersedes=certificate_id)
        statement = key.sign(
            EventType.SUPERSEDE,
            certificate_id=record_fields(record)["id"],
            record_hash=hash_record(record),
            at=_now(),
            reason=_reason_text(reason, note),
            supersedes=certificate_id,
        )
        return self._call(
            "POST",
            "/v1/certificates/statements",
            {"statements": [{"record": record, "statement": statement}]},
        )

    def change(
        self,
        kind: EventType,
        certificate_ids: Iterable[str],
        *,
        reason: str,
        note: str | None = None,
    ) -> Any:
        """Suspend, reinstate or withdraw certificates (`reason` a reason code, `note` free
        text): with a held key, all in one signed request (all or none); else one request
        each, signed by the registry."""
        if kind not in (EventType.SUSPEND, EventType.REINSTATE, EventType.WITHDRAW):
            raise ClientError(f"change: got {kind.value}, want suspend, reinstate or withdraw")
        ids = list(certificate_ids)
        if self._key is None:
            body = {"reason": reason} if note is None else {"reason": reason, "note": note}
            return [self._call("POST", f"/v1/certificates/{i}/{kind.value}", body) for i in ids]
        key = self._key
        at = _now()
        items = []
        for certificate_id in ids:
            # The record hash is the certificate's: read it, and sign only what was read.
            current = self._call("GET", f"/v1/certificates/{certificate_id}")
            items.append(
                {
                    "statement": key.sign(
                        kind,
                        certificate_id=certificate_id,
                        record_hash=parse_hex(current["record_hash"], what="record_hash"),
                        at=at,
                        reason=_reason_text(reason, note),
                    )
                }
            )
        return self._call("POST", "/v1/certificates/statements", {"statements": items})

    # -- transport -------------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        try:
            answer = self._http.request(method, self._api + path, json=body, headers=self._headers)
        except httpx2.HTTPError as exc:
            raise ClientError(f"{self._api}: got {exc}, want an answer") from exc
        if answer.status_code >= 400:
            try:
                detail = answer.json().get("detail", answer.text)
            except ValueError:
                detail = answer.text
            raise ClientError(
                f"{method} {path}: got {answer.status_code}: {detail}", status=answer.status_code
            )
        try:
            result = answer.json()
        except ValueError as exc:
            raise ClientError(f"{method} {path}: got an answer that is not JSON") from exc
        if not isinstance(result, dict):
            raise ClientError(f"{method} {path}: got {type(result).__name__}, want an object")
        return result


def _reason_text(reason: str, note: str | None) -> str:
    """The event's reason as the API writes it: the code, then the note (api/schemas.py)."""
    return reason if note is None else f"{reason}: {note}"


def _now() -> dt.datetime:
    now = dt.datetime.now(dt.UTC)
    return now - dt.timedelta(microseconds=now.microsecond) if now.microsecond else now
