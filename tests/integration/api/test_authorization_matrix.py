"""Every route × every principal × own and other CB's resources: the status each call gets is
the one `authorization_matrix.md` writes down (docs/security.md §8), and the table covers
exactly the app's routes.

The principals and resources are made through the API, as people would make them
(`test_accounts_api.py`); only tokens to be revoked are written straight into the database, the
question being who may revoke them, not how they were made. Time is a `ManualClock`: a token
made for one day is expired by moving the clock on two.
"""

import base64
import datetime as dt
import itertools
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import update
from starlette.routing import Mount

from api.app import create_app
from api.deps import SESSION_COOKIE
from api.settings import ApiSettings
from api.stack import Stack
from api.web.pages import CSS_PATH
from api.web.portal.issue import values_of
from registry.accounts import Actor, Principal, Role, new_token_row
from registry.client import KeyHolder
from registry.clock import utc_now
from registry.core.canonical import canonical_json
from registry.core.events import EventType
from registry.core.governance import (
    Admit,
    ApproveKey,
    Custody,
    Scope,
    Statement,
    sign_statement,
)
from registry.core.hashing import sha256
from registry.db import models
from registry.records import CertificateSubmission, build_record
from registry.samples import typed_samples
from registry.sheets import rows_csv
from tests.clock import ManualClock
from tests.integration.api.conftest import UNLIMITED, admit, bodies, chain_settings, make_stack
from tests.integration.conftest import Chain

#: the authority's key: the stack checks statements with its public half
AUTHORITY: Final = Ed25519PrivateKey.generate()

MATRIX: Final = Path(__file__).with_name("authorization_matrix.md")
PRINCIPALS: Final = (
    "authority",
    "cb-admin",
    "officer",
    "auditor",
    "anonymous",
    "revoked",
    "expired",
    "other-cb",
    "setup",
    "no-csrf",
)
#: targets that belong to a CB: called with the principal's own CB's and with the other's
PER_CB: Final = frozenset({"certificate", "issuer_id", "cb_officer", "cb_admin", "import", "draft"})
TARGETS: Final = PER_CB | {"-", "self", "auditor", "authority_admin"}
#: served documentation, not an operation anyone is authorised for
DOCUMENTATION: Final = frozenset({"/openapi.json", "/docs", "/docs/assets"})
IMPLICIT_METHODS: Final = frozenset({"HEAD", "OPTIONS"})
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})

A: Final = "vn-cb-quatest3"
B: Final = "vn-cb-hoabinh"
OTHER: Final = {A: B, B: A}
PASSWORD: Final = "mật khẩu của ma trận 2026"

RowKey = tuple[str, str, str]  # method, path, target


# -- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    target: str
    #: principal → (expected statuses with its own CB's resource, with the other CB's)
    cells: Mapping[str, tuple[frozenset[int], frozenset[int]]]
    line: int

    @property
    def key(self) -> RowKey:
        return (self.method, self.path, self.target)

    @property
    def sides(self) -> tuple[str, ...]:
        return ("own", "other") if self.target in PER_CB else ("own",)

    def __str__(self) -> str:
        suffix = "" if self.target == "-" else f" [{self.target}]"
        return f"{self.method} {self.path}{suffix}"


_STATUSES = re.compile(r"\d{3}(?:,\d{3})*")


def _statuses(text: str, where: str) -> frozenset[int]:
    if _STATUSES.fullmatch(text) is None:
        raise ValueError(f"{where}: got cell {text!r}, want a status such as 403 or 200,201")
    return frozenset(int(s) for s in text.split(","))


def _cell(text: str, target: str, where: str) -> tuple[frozenset[int], frozenset[int]]:
    own, slash, other = text.partition("/")
    if not slash:
        both = _statuses(own, where)
        return both, both
    if target not in PER_CB:
        raise ValueError(f"{where}: got own/other {text!r} for target {target!r}, want one status")
    return _statuses(own, where), _statuses(other, where)


def load_matrix(path: Path = MATRIX) -> list[Row]:
    """The rows of every table of `path` whose header is `route | target | <principals>`."""
    header = ["route", "target", *PRINCIPALS]
    rows: list[Row] = []
    in_table = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        where = f"{path.name}:{number}"
        if not line.startswith("|"):
            in_table = False
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[:2] == ["route", "target"]:
            if cells != header:
                raise ValueError(f"{where}: got columns {cells}, want {header}")
            in_table = True
            continue
        if not in_table or set(line) <= set("|-: "):
            continue
        if len(cells) != len(header):
            raise ValueError(f"{where}: got {len(cells)} cells, want {len(header)}")
        method, _, route = cells[0].strip("`").partition(" ")
        target = cells[1]
        if target not in TARGETS:
            raise ValueError(f"{where}: got target {target!r}, want one of {sorted(TARGETS)}")
        rows.append(
            Row(
                method=method,
                path=route,
                target=target,
                cells={
                    p: _cell(c, target, where) for p, c in zip(PRINCIPALS, cells[2:], strict=True)
                },
                line=number,
            )
        )
    keys = [r.key for r in rows]
    duplicated = {k for k in keys if keys.count(k) > 1}
    if duplicated:
        raise ValueError(f"{path.name}: got rows twice: {sorted(duplicated)}")
    return rows


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, documentation and implicit methods aside;
    a mount other than the documentation's assets counts as a route of method `*`."""
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path
        if path is None or path in DOCUMENTATION:
            continue
        if isinstance(route, Mount):
            found.add(("*", path))
            continue
        found.update((method, path) for method in set(context.methods or ()) - IMPLICIT_METHODS)
    return found


# -- principals and resources ---------------------------------------------------------------------


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Who:
    """A column: how it authenticates, the account behind it and the CB it counts as its own."""

    headers: dict[str, str]
    account_id: str | None
    role: Role | None
    cb: str = A


@dataclass(frozen=True)
class Call:
    """The parts of a row's request that depend on who sends it and which CB it names."""

    path: Mapping[str, object] = field(default_factory=dict)
    params: Mapping[str, Any] | None = None
    json: Any = None
    files: Mapping[str, tuple[str, bytes, str]] | None = None
    #: a form's fields (the portal's pages)
    data: Mapping[str, str] | None = None
    #: cookies sent besides the caller's own (the portal's sign-in form token)
    cookies: Mapping[str, str] = field(default_factory=dict)
    #: undoes what the call may have changed in the caller's own account
    after: Callable[[], None] | None = None


class World:
    """Two admitted CBs, one principal per column, the resources the rows name, and the client
    that sends every call."""

    def __init__(self, client: TestClient, stack: Stack, clock: ManualClock) -> None:
        self.client = client
        self.stack = stack
        self.clock = clock
        self._numbers = itertools.count(1)
        self._imports: dict[str, dict[str, Any]] = {}
        self._issued_imports: dict[str, str] = {}
        admit(stack, A)
        admit(stack, B)
        created = stack.service.accounts.bootstrap_authority(name="Quản trị", login="m-authority")
        setup = _bearer(created.setup_token)
        self.authority = self._own_token(setup, created.account.account_id, Role.AUTHORITY_ADMIN)
        # Both CBs adopted by the authority's statements, their hosted keys approved: so a CB
        # may propose keys, and keep one for the statements' rows.
        self.holders = {cb: KeyHolder(cb, Ed25519PrivateKey.generate()) for cb in (A, B)}
        for cb in (A, B):
            self._adopt(cb)
        self.auditor = self._person(self.authority, Role.AUDITOR, None, "m-auditor")
        self.admins = {
            cb: self._person(self.authority, Role.CB_ADMIN, cb, f"m-admin-{cb}") for cb in (A, B)
        }
        self.officers = {
            cb: self._person(self.admins[cb], Role.CB_OFFICER, cb, f"m-officer-{cb}")
            for cb in (A, B)
        }
        # Who prepares the drafts a row's caller decides on: an officer no column is.
        self.preparers = {
            cb: self._person(self.admins[cb], Role.CB_OFFICER, cb, f"m-preparer-{cb}")
            for cb in (A, B)
        }
        officer = self.officers[A]
        revoked = self._ok("POST", "/v1/tokens", self.authority.headers, json={"label": "old"})
        self._ok("DELETE", f"/v1/tokens/{revoked['token']['token_id']}", self.authority.headers)
        expiring = self._ok(
            "POST", "/v1/tokens", officer.headers, json={"label": "short", "expires_in_days": 1}
        )
        # Sessions, setup tokens and certificates are made after the clock moves on: they are
        # to be current when the matrix runs.
        clock.advance(2 * 86400)
        self.session = self._session(self._person(self.admins[A], Role.CB_OFFICER, A, "m-session"))
        self.who: dict[str, Who] = {
            "authority": self.authority,
            "cb-admin": self.admins[A],
            "officer": officer,
            "auditor": self.auditor,
            "anonymous": Who({}, None, None),
            "revoked": Who(_bearer(revoked["secret"]), self.authority.account_id, None),
            "expired": Who(_bearer(expiring["secret"]), officer.account_id, None),
            "other-cb": self.officers[B],
            "no-csrf": self.session,
        }
        self.published = {cb: self._issue(cb) for cb in (A, B)}
        stack.worker.run_until_idle()  # anchored: proofs, status proofs and the log's routes
        self.record = self._ok("GET", f"/v1/certificates/{self.published[A]}", {})["record"]
        self.bundle = self.client.get(f"/v1/certificates/{self.published[A]}/proof").content
        # A CB the authority's statements admitted, for the admissions' rows.
        self.admitted = "vn-cb-matrix"
        self._ok(
            "POST",
            "/v1/authority/statements",
            self.authority.headers,
            json=self.statement(self.admitted),
        )
        self._certificates: dict[tuple[str, str], str] = {}
        self._accounts: dict[tuple[str | None, Role], str] = {}
        self._setup: Who | None = None

    def statement(self, issuer_id: str | None = None) -> dict[str, Any]:
        """An `admit` of a new CB (each statement stands alone: no CB's state to disturb),
        signed with the authority's key."""
        key_id = sha256(AUTHORITY.public_key().public_bytes_raw())
        admit_cb = Admit(
            issuer_id=issuer_id or f"vn-cb-m{next(self._numbers)}",
            at=self.clock.now().replace(microsecond=0),
            authority_key_id=key_id,
            name_vi="Tổ chức chứng nhận",
            name_en="Certification body",
            accreditation_body="BoA",
            accreditation_number="VICAS 900",
            scope=Scope(kinds=("inspection",)),
            valid_from=dt.date(2020, 1, 1),
            valid_until=dt.date(2099, 12, 31),
        )
        return sign_statement(admit_cb, AUTHORITY).to_json()

    # -- the authority's statements, signed here and appended straight through the service --

    def _authority_says(self, statement: Statement) -> None:
        principal = self._as(self.authority)
        signed = sign_statement(statement, AUTHORITY).to_json()
        self.stack.service.governance.submit(principal, signed, actor=Actor())

    def _common(self, cb: str) -> dict[str, Any]:
        return {
            "issuer_id": cb,
            "at": self.clock.now().replace(microsecond=0),
            "authority_key_id": sha256(AUTHORITY.public_key().public_bytes_raw()),
        }

    def _adopt(self, cb: str) -> None:
        issuer = next(i for i in self.stack.transparency.issuers() if i.id == cb)
        self._authority_says(
            Admit(
                **self._common(cb),
                name_vi=issuer.name_vi,
                name_en=issuer.name_en,
                accreditation_body="BoA",
                accreditation_number="VICAS 901",
                scope=Scope(kinds=tuple(issuer.kinds)),
                valid_from=dt.date(2020, 1, 1),
                valid_until=dt.date(2099, 12, 31),
            )
        )
        [key] = [k for k in self.stack.service.issuers.keys(cb) if k.state == "active"]
        self._approve(cb, key.key_id, key.public_key, Custody.HOSTED)

    def _approve(self, cb: str, key_id: bytes, public_key: bytes, custody: Custody) -> None:
        self._authority_says(
            ApproveKey(**self._common(cb), key_id=key_id, public_key=public_key, custody=custody)
        )

    def keep_key(self, cb: str) -> KeyHolder:
        """`cb` keeps its signing key from now on: a new one, proposed and approved."""
        holder = self.holders[cb] = KeyHolder(cb, Ed25519PrivateKey.generate())
        self.stack.service.issuers.propose_key(
            cb,
            custody=Custody.HELD,
            actor=Actor(),
            public_key=holder.public_key,
            proof=holder.possession_proof(),
        )
        self._approve(cb, holder.key_id, holder.public_key, Custody.HELD)
        return holder

    def host_key(self, cb: str) -> None:
        """`cb`'s key is the registry's again (a new hosted one), for the other rows."""
        proposed = self.stack.service.issuers.propose_key(cb, custody=Custody.HOSTED, actor=Actor())
        self._approve(cb, proposed.key_id, proposed.public_key, Custody.HOSTED)

    def signed_issue(self, holder: KeyHolder, kind_of: str) -> dict[str, Any]:
        """A new certificate of `holder`'s CB (of `kind_of`'s first sample kind), signed."""
        submission = CertificateSubmission.model_validate(self.submission(kind_of))
        record = build_record(submission, issuer_id=holder.issuer_id)
        statement = holder.sign(
            EventType.ISSUE,
            certificate_id=record["id"],
            record_hash=sha256(canonical_json(record)),
            at=self.clock.now().replace(microsecond=0),
        )
        return {"record": record, "statement": statement}

    # -- through the API --

    def _ok(
        self, method: str, url: str, headers: Mapping[str, str], **kwargs: Any
    ) -> dict[str, Any]:
        answer = self.client.request(method, url, headers=headers, **kwargs)
        self.client.cookies.clear()
        assert answer.is_success, f"setting up: {method} {url}: {answer.status_code} {answer.text}"
        return dict(answer.json()) if answer.content else {}

    def _own_token(self, setup: Mapping[str, str], account_id: str, role: Role, cb: str = A) -> Who:
        made = self._ok("POST", "/v1/tokens", setup, json={"label": "matrix"})
        return Who(_bearer(made["secret"]), account_id, role, cb)

    def _account(self, by: Who, role: Role, cb: str | None, login: str | None) -> dict[str, Any]:
        body = {"role": role.value, "issuer_id": cb, "name": login or "matrix", "login": login}
        return self._ok("POST", "/v1/accounts", by.headers, json=body)

    def _person(self, by: Who, role: Role, cb: str | None, login: str) -> Who:
        created = self._account(by, role, cb, login)
        account_id = created["account"]["account_id"]
        return self._own_token(_bearer(created["setup_token"]), account_id, role, cb or A)

    def _session(self, person: Who) -> Who:
        """`person` with a password, logged in: its session cookie and nothing else."""
        self._ok("PUT", "/v1/me/password", person.headers, json={"new_password": PASSWORD})
        login = self.client.post(
            "/v1/auth/login", json={"login": "m-session", "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        cookie = login.cookies[SESSION_COOKIE]
        self.client.cookies.clear()
        return Who({"Cookie": f"{SESSION_COOKIE}={cookie}"}, person.account_id, person.role)

    def submission(self, cb: str, **extra: Any) -> dict[str, Any]:
        """A new certificate of `cb`'s first sample kind, valid long after the test."""
        number = f"MATRIX-{next(self._numbers):05d}"
        return {**bodies(cb)[0], "number": number, "valid_until": "2099-01-01", **extra}

    def _issue(self, cb: str) -> str:
        made = self._ok(
            "POST", "/v1/certificates", self.officers[cb].headers, json=self.submission(cb)
        )
        return str(made["id"])

    # -- resources, made when first asked for and again once a call may have changed them --

    def principal(self, column: str) -> Who:
        if column != "setup":
            return self.who[column]
        if self._setup is None:
            login = f"m-setup-{next(self._numbers)}"
            created = self._account(self.admins[A], Role.CB_OFFICER, A, login)
            self._setup = Who(
                _bearer(created["setup_token"]),
                created["account"]["account_id"],
                Role.CB_OFFICER,
            )
        return self._setup

    def certificate(self, cb: str, *, suspended: bool = False) -> str:
        key = (cb, "suspended" if suspended else "valid")
        if key not in self._certificates:
            made = self._issue(cb)
            if suspended:
                self._ok(
                    "POST",
                    f"/v1/certificates/{made}/suspend",
                    self.officers[cb].headers,
                    json={"reason": "surveillance-nonconformity"},
                )
            self._certificates[key] = made
        return self._certificates[key]

    def draft(self, cb: str, *, by: Who | None = None, submitted: bool = False) -> dict[str, Any]:
        """A new draft of `cb`: prepared by `by` when its credential may (a person of `cb`),
        else by `cb`'s preparer; submitted when asked."""
        body = {"certificate": self.submission(cb)}
        made = None
        if by is not None and by.role in (Role.CB_ADMIN, Role.CB_OFFICER) and by.cb == cb:
            answer = self.client.post("/v1/drafts", json=body, headers=by.headers)
            self.client.cookies.clear()
            made = answer.json() if answer.status_code == 201 else None
        preparer = by if made is not None and by is not None else self.preparers[cb]
        if made is None:
            made = self._ok("POST", "/v1/drafts", preparer.headers, json=body)
        if submitted:
            made = self._ok(
                "POST",
                f"/v1/drafts/{made['id']}/submit",
                preparer.headers,
                json={"revision": made["revision"]},
            )
        return made

    def account(self, cb: str | None, role: Role) -> str:
        """A system account made for the test (never a column's), by its manager."""
        key = (cb if role in (Role.CB_ADMIN, Role.CB_OFFICER) else None, role)
        if key not in self._accounts:
            by = self.authority if key[0] is None else self.admins[key[0]]
            self._accounts[key] = self._account(by, role, key[0], None)["account"]["account_id"]
        return self._accounts[key]

    def token_of(self, account_id: str) -> str:
        """A new API token of the account (its id), written straight into the database."""
        now = self.clock.now()
        with self.stack.sessions.begin() as session:
            account = session.get(models.Account, account_id)
            assert account is not None
            row, _ = new_token_row(
                session, account, label="matrix", now=now, expires_at=now + dt.timedelta(days=30)
            )
            return row.id

    def import_file(self, cb: str) -> tuple[str, bytes]:
        """(kind, CSV) of one new typed certificate of `cb`'s (docs/spec.md §11.13)."""
        body = next(b for b in typed_samples() if b["issuer_id"] == cb)
        row = {**body, "number": f"MATRIX-I-{next(self._numbers):05d}", "valid_until": None}
        return str(body["kind"]), rows_csv([row], body["kind"])

    def import_job(self, cb: str) -> dict[str, Any]:
        """An upload of `cb`'s officer, checked and not confirmed."""
        if cb not in self._imports:
            kind, data = self.import_file(cb)
            self._imports[cb] = self._ok(
                "POST",
                "/v1/imports",
                self.officers[cb].headers,
                data={"kind": kind},
                files={"file": ("matrix.csv", data, "text/csv")},
            )
        return self._imports[cb]

    def issued_import(self, cb: str) -> str:
        """An upload of `cb`'s officer, confirmed and issued (its certificates to print)."""
        if cb not in self._issued_imports:
            job = self.import_job(cb)
            officer = self.officers[cb].headers
            self._ok("POST", f"/v1/imports/{job['id']}/confirm", officer, json={})
            for _ in range(400):
                if self._ok("GET", f"/v1/imports/{job['id']}", officer)["state"] == "done":
                    break
                time.sleep(0.05)
            self._imports.pop(cb)
            self._issued_imports[cb] = job["id"]
        return self._issued_imports[cb]

    def spent(self) -> None:
        """A call was allowed to change something: what it named is made afresh."""
        self._imports.clear()
        self._certificates.clear()
        self._accounts.clear()
        self._setup = None

    # -- TOTP, set up and undone straight in the service: only the row's own call is judged --

    def _as(self, who: Who) -> Principal:
        assert who.account_id is not None and who.role is not None
        issuer = who.cb if who.role in (Role.CB_ADMIN, Role.CB_OFFICER) else None
        return Principal(who.account_id, who.role, issuer, "matrix", "fixture:matrix")

    def totp_pending(self, who: Who) -> pyotp.TOTP | None:
        if who.account_id is None or who.role is None:
            return None
        enrolment = self.stack.service.accounts.begin_totp(self._as(who), actor=Actor())
        return pyotp.TOTP(enrolment.secret)

    def totp_on(self, who: Who) -> pyotp.TOTP | None:
        totp = self.totp_pending(who)
        if totp is not None:
            code = totp.at(self.clock.now())
            self.stack.service.accounts.confirm_totp(self._as(who), code=code, actor=Actor())
        return totp

    def totp_off(self, who: Who) -> Callable[[], None]:
        def undo() -> None:
            if who.account_id is not None:
                with self.stack.sessions.begin() as session:
                    session.execute(
                        update(models.Account)
                        .where(models.Account.id == who.account_id)
                        .values(totp_enabled=False, totp_secret=None, totp_last_step=None)
                    )

        return undo

    # -- one cell --

    def send(self, row: Row, who: Who, cb: str) -> Response:
        call = CALLS[row.key](self, Ask(who, cb, row.target))
        self.client.cookies.clear()
        headers = dict(who.headers)
        if call.cookies:
            cookies = [f"{name}={value}" for name, value in call.cookies.items()]
            headers["Cookie"] = "; ".join(filter(None, [headers.get("Cookie"), *cookies]))
        answer = self.client.request(
            row.method,
            row.path.format(**call.path),
            params=call.params,
            json=call.json,
            files=call.files,
            data=call.data,
            headers=headers,
            # A redirect is the answer judged: the portal's 303 after a change, or to sign in.
            follow_redirects=False,
        )
        self.client.cookies.clear()  # a login's cookie is not the next call's
        if call.after is not None:
            call.after()
        if row.method not in SAFE_METHODS and (answer.is_success or answer.is_redirect):
            self.spent()
        return answer


# -- the request of each row ----------------------------------------------------------------------


@dataclass(frozen=True)
class Ask:
    """One cell: who calls, the CB its resource belongs to (its own or the other), the row's
    target."""

    who: Who
    cb: str
    target: str

    @property
    def role(self) -> Role:
        return Role(self.target)

    @property
    def own_account(self) -> str | None:
        return self.who.account_id


Builder = Callable[[World, Ask], Call]
CALLS: dict[RowKey, Builder] = {}


def calls(*rows: str) -> Callable[[Builder], Builder]:
    """Register `builder` as the request of `rows` ("METHOD /path target")."""

    def register(builder: Builder) -> Builder:
        for text in rows:
            method, path, target = text.split()
            CALLS[(method, path, target)] = builder
        return builder

    return register


@calls(
    "GET /v1/certificates -",
    "GET /v1/registry -",
    "GET /v1/admissions -",
    "GET /v1/issuers -",
    "GET /v1/checkpoints -",
    "GET /verify -",
    "GET /verify/bundle -",
    f"GET {CSS_PATH} -",
    "GET /healthz -",
    "GET /metrics -",
    "GET /v1/me -",
    "GET /v1/accounts -",
    "GET /v1/tokens -",
    "GET /v1/audit -",
    "POST /v1/auth/logout -",
)
def _plain(world: World, ask: Ask) -> Call:
    return Call()


@calls(
    "GET /v1/certificates/{certificate_id} certificate",
    "GET /v1/certificates/{certificate_id}/proof certificate",
    "GET /v1/certificates/{certificate_id}/status-proof certificate",
    "GET /v1/certificates/{certificate_id}/qr.svg certificate",
    "GET /v1/certificates/{certificate_id}/qr.png certificate",
    "GET /v1/certificates/{certificate_id}/pdf certificate",
    "GET /verify/{certificate_id} certificate",
)
def _published(world: World, ask: Ask) -> Call:
    return Call(path={"certificate_id": world.published[ask.cb]})


@calls("GET /v1/admissions/{issuer_id} -")
def _admission(world: World, ask: Ask) -> Call:
    return Call(path={"issuer_id": world.admitted})


@calls("POST /v1/authority/statements -")
def _statement(world: World, ask: Ask) -> Call:
    return Call(json=world.statement())


@calls("POST /v1/verify -")
def _verify(world: World, ask: Ask) -> Call:
    return Call(json={"record": world.record})


@calls("POST /verify/bundle -")
def _upload(world: World, ask: Ask) -> Call:
    return Call(files={"bundle": ("bundle.json", world.bundle, "application/json")})


@calls("GET /v1/checkpoints/{index} -")
def _checkpoint(world: World, ask: Ask) -> Call:
    return Call(path={"index": 0})


@calls("GET /v1/log/consistency -")
def _consistency(world: World, ask: Ask) -> Call:
    return Call(params={"from": 1, "to": 1})


@calls("GET /v1/log/entries -")
def _entries(world: World, ask: Ask) -> Call:
    return Call(params={"start": 0, "end": 1})


# Certificates: a submission is of a kind the caller's own CB may issue, so that naming the
# other CB (its issuer_id, its certificate) is the only thing wrong with the request.


@calls("POST /v1/certificates issuer_id")
def _issue(world: World, ask: Ask) -> Call:
    return Call(json=world.submission(ask.who.cb, issuer_id=ask.cb))


@calls("POST /v1/certificates/statements issuer_id")
def _statements(world: World, ask: Ask) -> Call:
    # The CB named keeps its key for this call only: a statement it signed about a new
    # certificate, sent by the caller.
    holder = world.keep_key(ask.cb)
    return Call(
        json={"statements": [world.signed_issue(holder, ask.who.cb)]},
        after=lambda: world.host_key(ask.cb),
    )


@calls(
    "POST /v1/certificates/labels certificate",
    "POST /v1/certificates/pdfs certificate",
)
def _printed(world: World, ask: Ask) -> Call:
    return Call(json={"certificate_ids": [world.published[ask.cb]]})


@calls("GET /v1/imports/templates/{kind} -")
def _import_template(world: World, ask: Ask) -> Call:
    return Call(path={"kind": "calibration"}, params={"format": "csv"})


@calls("POST /v1/imports -")
def _upload_import(world: World, ask: Ask) -> Call:
    kind, data = world.import_file(ask.who.cb)
    return Call(data={"kind": kind}, files={"file": ("matrix.csv", data, "text/csv")})


@calls("GET /v1/imports -")
def _imports(world: World, ask: Ask) -> Call:
    return Call()


@calls(
    "GET /v1/imports/{import_id} import",
    "GET /v1/imports/{import_id}/result.csv import",
)
def _import(world: World, ask: Ask) -> Call:
    return Call(path={"import_id": world.import_job(ask.cb)["id"]})


@calls("PUT /v1/imports/{import_id}/mapping import")
def _remap(world: World, ask: Ask) -> Call:
    job = world.import_job(ask.cb)
    return Call(path={"import_id": job["id"]}, json={"mapping": job["mapping"]})


@calls("POST /v1/imports/{import_id}/confirm import")
def _confirm_import(world: World, ask: Ask) -> Call:
    return Call(path={"import_id": world.import_job(ask.cb)["id"]}, json={})


@calls("GET /v1/certificates/{certificate_id}/proof/full certificate")
def _full_proof(world: World, ask: Ask) -> Call:
    return Call(path={"certificate_id": world.published[ask.cb]})


@calls("GET /v1/issuers/{issuer_id}/keys -")
def _keys(world: World, ask: Ask) -> Call:
    return Call(path={"issuer_id": A})


@calls("POST /v1/issuers/{issuer_id}/keys issuer_id")
def _propose_key(world: World, ask: Ask) -> Call:
    return Call(path={"issuer_id": ask.cb}, json={"custody": "hosted"})


@calls("POST /v1/certificates/batch issuer_id")
def _batch(world: World, ask: Ask) -> Call:
    return Call(json={"certificates": [world.submission(ask.who.cb, issuer_id=ask.cb)]})


@calls(
    "POST /v1/certificates/{certificate_id}/suspend certificate",
    "POST /v1/certificates/{certificate_id}/withdraw certificate",
)
def _suspend(world: World, ask: Ask) -> Call:
    return Call(
        path={"certificate_id": world.certificate(ask.cb)},
        json={"reason": "surveillance-nonconformity"},
    )


@calls("POST /v1/certificates/{certificate_id}/reinstate certificate")
def _reinstate(world: World, ask: Ask) -> Call:
    return Call(
        path={"certificate_id": world.certificate(ask.cb, suspended=True)},
        json={"reason": "corrective-action-completed"},
    )


@calls("POST /v1/certificates/{certificate_id}/supersede certificate")
def _supersede(world: World, ask: Ask) -> Call:
    return Call(
        path={"certificate_id": world.certificate(ask.cb)},
        json={"certificate": world.submission(ask.who.cb), "reason": "renewal"},
    )


# A CB's settings and its drafts: the CB's people; the authority's admins and auditors read


@calls("GET /v1/issuers/{issuer_id}/settings issuer_id")
def _settings(world: World, ask: Ask) -> Call:
    return Call(path={"issuer_id": ask.cb})


@calls("PUT /v1/issuers/{issuer_id}/settings issuer_id")
def _set_settings(world: World, ask: Ask) -> Call:
    # Review stays off: the direct issue rows issue directly.
    return Call(path={"issuer_id": ask.cb}, json={"review_required": False})


@calls("POST /v1/drafts issuer_id")
def _create_draft(world: World, ask: Ask) -> Call:
    return Call(json={"certificate": world.submission(ask.who.cb, issuer_id=ask.cb)})


@calls("GET /v1/drafts -")
def _drafts(world: World, ask: Ask) -> Call:
    world.draft(A)
    world.draft(B)
    return Call()


@calls("GET /v1/drafts issuer_id")
def _drafts_of(world: World, ask: Ask) -> Call:
    return Call(params={"issuer_id": ask.cb})


@calls("GET /v1/drafts/{draft_id} draft")
def _a_draft(world: World, ask: Ask) -> Call:
    return Call(path={"draft_id": world.draft(ask.cb)["id"]})


@calls("PUT /v1/drafts/{draft_id} draft")
def _edit_draft(world: World, ask: Ask) -> Call:
    made = world.draft(ask.cb, by=ask.who)
    return Call(
        path={"draft_id": made["id"]},
        json={"certificate": world.submission(ask.cb), "revision": made["revision"]},
    )


@calls("POST /v1/drafts/{draft_id}/submit draft", "POST /v1/drafts/{draft_id}/withdraw draft")
def _own_draft(world: World, ask: Ask) -> Call:
    made = world.draft(ask.cb, by=ask.who)
    return Call(path={"draft_id": made["id"]}, json={"revision": made["revision"]})


@calls("POST /v1/drafts/{draft_id}/approve draft")
def _approve_draft(world: World, ask: Ask) -> Call:
    made = world.draft(ask.cb, submitted=True)
    return Call(path={"draft_id": made["id"]}, json={"revision": made["revision"]})


@calls("POST /v1/drafts/{draft_id}/reject draft")
def _reject_draft(world: World, ask: Ask) -> Call:
    made = world.draft(ask.cb, submitted=True)
    return Call(
        path={"draft_id": made["id"]},
        json={"revision": made["revision"], "comment": "Thiếu biên bản đánh giá"},
    )


# Sessions and the caller's own credentials


@calls("POST /v1/auth/login -")
def _login(world: World, ask: Ask) -> Call:
    return Call(json={"login": "m-session", "password": PASSWORD})


@calls("PUT /v1/me/password -")
def _password(world: World, ask: Ask) -> Call:
    # The same password again: allowed or not, the account is as it was for the next call.
    return Call(json={"current_password": PASSWORD, "new_password": PASSWORD})


@calls("POST /v1/me/totp -")
def _totp_begin(world: World, ask: Ask) -> Call:
    return Call(after=world.totp_off(ask.who))


@calls("POST /v1/me/totp/confirm -")
def _totp_confirm(world: World, ask: Ask) -> Call:
    totp = world.totp_pending(ask.who)
    code = totp.at(world.clock.now()) if totp else "000000"
    return Call(json={"code": code}, after=world.totp_off(ask.who))


@calls("POST /v1/me/totp/disable -")
def _totp_disable(world: World, ask: Ask) -> Call:
    totp = world.totp_on(ask.who)
    # The next step's code: the current one was spent turning TOTP on.
    code = totp.at(world.clock.now() + dt.timedelta(seconds=30)) if totp else "000000"
    return Call(json={"code": code}, after=world.totp_off(ask.who))


@calls("POST /v1/tokens self")
def _new_own_token(world: World, ask: Ask) -> Call:
    return Call(json={"label": "matrix"})


@calls("GET /v1/accounts/{account_id} self")
def _own_account(world: World, ask: Ask) -> Call:
    return Call(path={"account_id": ask.own_account or world.officers[A].account_id})


@calls("DELETE /v1/tokens/{token_id} self")
def _revoke_own(world: World, ask: Ask) -> Call:
    owner = ask.own_account or world.officers[A].account_id
    assert owner is not None
    return Call(path={"token_id": world.token_of(owner)})


# Accounts and tokens


@calls(
    "POST /v1/accounts cb_officer",
    "POST /v1/accounts cb_admin",
)
def _create_cb_account(world: World, ask: Ask) -> Call:
    return Call(json={"role": ask.target, "issuer_id": ask.cb, "name": "matrix"})


@calls("POST /v1/accounts auditor", "POST /v1/accounts authority_admin")
def _create_authority_account(world: World, ask: Ask) -> Call:
    return Call(json={"role": ask.target, "name": "matrix"})


@calls("GET /v1/accounts issuer_id", "GET /v1/audit issuer_id")
def _by_issuer(world: World, ask: Ask) -> Call:
    return Call(params={"issuer_id": ask.cb})


@calls(
    "GET /v1/accounts/{account_id} cb_officer",
    "GET /v1/accounts/{account_id} auditor",
    "POST /v1/accounts/{account_id}/reset cb_officer",
    "POST /v1/accounts/{account_id}/reset cb_admin",
    "POST /v1/accounts/{account_id}/reset auditor",
)
def _an_account(world: World, ask: Ask) -> Call:
    return Call(path={"account_id": world.account(ask.cb, ask.role)})


@calls(
    "POST /v1/accounts/{account_id}/disable cb_officer",
    "POST /v1/accounts/{account_id}/disable cb_admin",
    "POST /v1/accounts/{account_id}/disable auditor",
)
def _disable(world: World, ask: Ask) -> Call:
    return Call(path={"account_id": world.account(ask.cb, ask.role)}, json={"reason": "matrix"})


@calls("POST /v1/tokens cb_officer", "POST /v1/tokens auditor")
def _token_for(world: World, ask: Ask) -> Call:
    return Call(json={"label": "matrix", "account_id": world.account(ask.cb, ask.role)})


@calls("GET /v1/tokens cb_officer")
def _tokens_of(world: World, ask: Ask) -> Call:
    return Call(params={"account_id": world.account(ask.cb, ask.role)})


@calls("DELETE /v1/tokens/{token_id} cb_officer", "DELETE /v1/tokens/{token_id} auditor")
def _revoke(world: World, ask: Ask) -> Call:
    return Call(path={"token_id": world.token_of(world.account(ask.cb, ask.role))})


# The portal (api/web/portal): its forms carry no CSRF token here, so a session's form post is
# refused as the JSON API's would be (the no-csrf column); bearer tokens need none.


@calls(
    "GET /portal/login -",
    "GET /portal/setup -",
    "GET /portal -",
    "GET /portal/accounts -",
    "GET /portal/tokens -",
    "GET /portal/issuers -",
    "GET /portal/imports -",
    "GET /portal/drafts -",
    "GET /portal/settings -",
    "POST /portal/settings -",
    "GET /portal/account -",
)
def _portal_page(world: World, ask: Ask) -> Call:
    return Call()


def _form_token(world: World, page: str) -> dict[str, str]:
    """The sign-in or setup form's token and its cookie, as the form's page sets them."""
    answer = world.client.get(page)
    token = answer.cookies["certreg_form"]
    world.client.cookies.clear()
    return {"form_token": token}


@calls("POST /portal/login -")
def _portal_login(world: World, ask: Ask) -> Call:
    form = _form_token(world, "/portal/login")
    return Call(
        data={"login": "m-session", "password": PASSWORD, **form},
        cookies={"certreg_form": form["form_token"]},
    )


@calls("POST /portal/setup -")
def _portal_setup(world: World, ask: Ask) -> Call:
    login = f"m-setup-{next(world._numbers)}"
    created = world._account(world.admins[A], Role.CB_OFFICER, A, login)
    form = _form_token(world, "/portal/setup")
    return Call(
        data={
            "setup_token": created["setup_token"],
            "new_password": PASSWORD,
            "repeat_password": PASSWORD,
            **form,
        },
        cookies={"certreg_form": form["form_token"]},
    )


@calls("POST /portal/logout -")
def _portal_logout(world: World, ask: Ask) -> Call:
    return Call(data={})


@calls("GET /portal/certificates/{certificate_id} certificate")
def _portal_certificate(world: World, ask: Ask) -> Call:
    return Call(path={"certificate_id": world.published[ask.cb]})


@calls("GET /portal/certificates/{certificate_id}/{action} certificate")
def _portal_action_form(world: World, ask: Ask) -> Call:
    return Call(path={"certificate_id": world.certificate(ask.cb), "action": "suspend"})


@calls(
    "POST /portal/certificates/{certificate_id}/{action}/confirm certificate",
    "POST /portal/certificates/{certificate_id}/{action} certificate",
)
def _portal_suspend(world: World, ask: Ask) -> Call:
    return Call(
        path={"certificate_id": world.certificate(ask.cb), "action": "suspend"},
        data={"reason": "surveillance-nonconformity"},
    )


@calls("GET /portal/drafts/{draft_id} draft")
def _portal_draft(world: World, ask: Ask) -> Call:
    return Call(path={"draft_id": world.draft(ask.cb)["id"]})


@calls("POST /portal/drafts/{draft_id}/{action} draft")
def _portal_submit_draft(world: World, ask: Ask) -> Call:
    made = world.draft(ask.cb, by=ask.who)
    return Call(
        path={"draft_id": made["id"], "action": "submit"},
        data={"revision": str(made["revision"])},
    )


@calls(
    "GET /portal/imports/{import_id}/labels.pdf import",
    "GET /portal/imports/{import_id}/certificates.zip import",
)
def _portal_print_import(world: World, ask: Ask) -> Call:
    return Call(path={"import_id": world.issued_import(ask.cb)}, params={"part": 1})


@calls("POST /portal/account/password -")
def _portal_password(world: World, ask: Ask) -> Call:
    # The same password again: the account is as it was for the next call.
    return Call(data={"current": PASSWORD, "new": PASSWORD, "again": PASSWORD})


@calls("POST /portal/account/totp -")
def _portal_totp_begin(world: World, ask: Ask) -> Call:
    return Call(after=world.totp_off(ask.who))


@calls("POST /portal/account/totp/{change} -")
def _portal_totp_confirm(world: World, ask: Ask) -> Call:
    totp = world.totp_pending(ask.who)
    code = totp.at(world.clock.now()) if totp else "000000"
    return Call(path={"change": "confirm"}, data={"code": code}, after=world.totp_off(ask.who))


@calls("POST /portal/imports -")
def _portal_upload(world: World, ask: Ask) -> Call:
    kind, data = world.import_file(ask.who.cb)
    return Call(data={"kind": kind}, files={"file": ("matrix.csv", data, "text/csv")})


@calls(
    "GET /portal/imports/{import_id} import",
    "GET /portal/imports/{import_id}/result.csv import",
    "POST /portal/imports/{import_id}/confirm import",
)
def _portal_import(world: World, ask: Ask) -> Call:
    return Call(path={"import_id": world.import_job(ask.cb)["id"]})


@calls("POST /portal/imports/{import_id}/mapping import")
def _portal_remap(world: World, ask: Ask) -> Call:
    job = world.import_job(ask.cb)
    return Call(
        path={"import_id": job["id"]},
        data={f"map-{i}": job["mapping"].get(h, "") for i, h in enumerate(job["headers"])},
    )


def _issue_form(world: World, cb: str) -> dict[str, str]:
    """The issuing form's fields for a new certificate of `cb`'s first sample kind (format 2),
    as a person fills them in."""
    typed = next(s for s in typed_samples() if s["issuer_id"] == cb)
    number = f"MATRIX-{next(world._numbers):05d}"
    body = {k: v for k, v in typed.items() if k != "issuer_id"}
    body |= {"number": number, "valid_until": "2099-01-01"}
    return values_of(body, typed["kind"]) | {"kind": typed["kind"]}


@calls("GET /portal/issue -")
def _portal_issue_form(world: World, ask: Ask) -> Call:
    return Call(params={"kind": bodies(ask.who.cb)[0]["kind"]})


@calls("POST /portal/issue/review -", "POST /portal/issue -")
def _portal_issue(world: World, ask: Ask) -> Call:
    return Call(data=_issue_form(world, ask.who.cb))


@calls("GET /portal/certificates/{certificate_id}/replace certificate")
def _portal_replace_form(world: World, ask: Ask) -> Call:
    return Call(path={"certificate_id": world.certificate(ask.cb)})


@calls(
    "POST /portal/certificates/{certificate_id}/replace/review certificate",
    "POST /portal/certificates/{certificate_id}/replace certificate",
)
def _portal_replace(world: World, ask: Ask) -> Call:
    # The replacement is of the old certificate's kind: its CB's first sample kind.
    return Call(
        path={"certificate_id": world.certificate(ask.cb)},
        data={**_issue_form(world, ask.cb), "reason": "renewal"},
    )


@calls("POST /portal/accounts cb_officer")
def _portal_create_account(world: World, ask: Ask) -> Call:
    login = f"m-portal-{next(world._numbers)}"
    return Call(data={"role": ask.target, "issuer_id": ask.cb, "name": login, "login": login})


@calls("POST /portal/accounts/{account_id}/disable cb_officer")
def _portal_disable(world: World, ask: Ask) -> Call:
    return Call(path={"account_id": world.account(ask.cb, ask.role)}, data={"reason": "matrix"})


@calls("POST /portal/tokens self")
def _portal_token(world: World, ask: Ask) -> Call:
    return Call(data={"label": "matrix", "days": "30"})


@calls("POST /portal/tokens/{token_id}/revoke self")
def _portal_revoke_own(world: World, ask: Ask) -> Call:
    owner = ask.own_account or world.officers[A].account_id
    assert owner is not None
    return Call(path={"token_id": world.token_of(owner)}, data={})


@calls("GET /portal/keys -")
def _portal_keys(world: World, ask: Ask) -> Call:
    return Call(params={"issuer": A})


@calls("POST /portal/keys issuer_id")
def _portal_propose_key(world: World, ask: Ask) -> Call:
    return Call(params={"issuer": ask.cb}, data={})


# -- what a list may show ------------------------------------------------------------------------

#: list routes, and the members of their items that name a CB
_LISTS: Final = {
    ("GET", "/v1/accounts"): ("accounts", ("issuer_id",)),
    ("GET", "/v1/tokens"): ("tokens", ("issuer_id",)),
    ("GET", "/v1/audit"): ("entries", ("issuer_id", "actor_issuer_id")),
    ("GET", "/v1/drafts"): ("drafts", ("issuer_id",)),
}


def leaked(row: Row, who: Who, answer: Response) -> list[Any]:
    """Items of another CB in a list answered to a CB's admin or officer: a status of 200 is
    no allow of those."""
    listed = _LISTS.get((row.method, row.path))
    if listed is None or not answer.is_success or who.role not in (Role.CB_ADMIN, Role.CB_OFFICER):
        return []
    member, names = listed
    return [
        item
        for item in answer.json()[member]
        if any(item.get(name) not in (None, who.cb) for name in names)
    ]


# -- the tests -----------------------------------------------------------------------------------


def test_the_table_names_every_route_and_only_those() -> None:
    rows = load_matrix()
    served = app_routes(create_app())
    written = {(r.method, r.path) for r in rows}
    assert not served - written, f"routes with no row in {MATRIX.name}: {sorted(served - written)}"
    assert not written - served, f"rows of routes the app lacks: {sorted(written - served)}"
    keys = {r.key for r in rows}
    assert keys == set(CALLS), (
        f"rows without a request: {sorted(keys - set(CALLS))}; "
        f"requests without a row: {sorted(set(CALLS) - keys)}"
    )


@pytest.fixture
def clock() -> ManualClock:
    # Two days back: the token made for one day expires when the clock is moved to now.
    return ManualClock(start=utc_now() - dt.timedelta(days=2))


@pytest.fixture
def stack(database_url: str, chain: Chain, tmp_path: Path, clock: ManualClock) -> Iterator[Stack]:
    authority = base64.b64encode(AUTHORITY.public_key().public_bytes_raw()).decode()
    built = make_stack(database_url, chain, tmp_path, authority_public_key=authority)
    timed = Stack(built.settings, chain_settings(chain), migrate=False, clock=clock)
    built.close()
    yield timed
    timed.close()


@pytest.fixture
def world(stack: Stack, clock: ManualClock) -> Iterator[World]:
    app = create_app(stack, ApiSettings(max_body_bytes=64 * 1024, **UNLIMITED))
    # A 500 is an answer the table never names: a failure to report, not to raise.
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(client, stack, clock)


def _describe(row: Row, column: str, side: str, got: int, want: frozenset[int]) -> str:
    allowed, expected = 200 <= got < 300, any(200 <= s < 300 for s in want)
    kind = (
        "unexpected allow"
        if allowed and not expected
        else "unexpected refusal"
        if expected and not allowed
        else "another status"
    )
    on = f" on the {side} CB's" if row.target in PER_CB else ""
    wanted = ",".join(str(s) for s in sorted(want))
    return f"{kind}: {row} as {column}{on}: got {got}, want {wanted} ({MATRIX.name}:{row.line})"


def test_every_route_as_every_principal(
    world: World, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    started = time.perf_counter()
    rows = load_matrix()
    failures: list[str] = []
    allows = refusals = 0
    for row in rows:
        for column in PRINCIPALS:
            for side in row.sides:
                who = world.principal(column)
                cb = who.cb if side == "own" else OTHER[who.cb]
                want = row.cells[column][0 if side == "own" else 1]
                answer = world.send(row, who, cb)
                allows += answer.is_success
                refusals += not answer.is_success
                if answer.status_code not in want:
                    failures.append(_describe(row, column, side, answer.status_code, want))
                    if answer.status_code >= 500 or answer.status_code == 422:
                        failures.append(f"    {answer.text[:300]}")
                if foreign := leaked(row, who, answer):
                    failures.append(
                        f"unexpected allow: {row} as {column}: another CB's items {foreign[:3]}"
                    )
    routes = len({(r.method, r.path) for r in rows})
    line = (
        f"authorisation matrix: {routes} routes in {len(rows)} rows × {len(PRINCIPALS)} "
        f"principals = {allows + refusals} calls (own and other CB's where a row names one): "
        f"{allows} allowed, {refusals} refused, {len(failures)} not as written, "
        f"{time.perf_counter() - started:.1f} s"
    )
    request.node.user_properties.append(("figures", line))
    with capsys.disabled():
        print(f"\n{line}")
    assert not failures, "\n".join(failures)
