"""The portal's management pages: accounts, API tokens and signing keys for a CB's admins (and
the authority's admins for the accounts they manage), and the list of CBs for the authority.

Every change calls the registry function the JSON API's route calls (api/routes/accounts.py,
api/routes/keys.py), which decides who may do it (docs/security.md §8): the pages only offer
what the person's role allows. The authority's statements (admitting, suspending a CB,
approving its keys) are signed with the authority's key on the authority's machine; the server
never holds it, so the CB list shows the `certreg authority …` command to run instead.
"""

from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.stack import Stack
from api.web.i18n import translator
from api.web.portal.auth import Person, PersonDep
from api.web.portal.render import language, portal_page
from registry.accounts import TOKEN_DAYS_DEFAULT, TOKEN_DAYS_MAX, AccountView, Role
from registry.core.encoding import hex0x
from registry.core.governance import Custody
from registry.errors import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: the roles each manager may create here (registry.accounts decides; this is what is offered)
_CREATES: Final = {
    Role.CB_ADMIN: (Role.CB_OFFICER, Role.CB_ADMIN),
    Role.AUTHORITY_ADMIN: (Role.CB_ADMIN, Role.AUDITOR, Role.AUTHORITY_ADMIN),
}
_READERS: Final = frozenset({Role.CB_ADMIN, Role.AUTHORITY_ADMIN, Role.AUDITOR})


def _stack(request: Request) -> Stack:
    stack: Stack = request.app.state.stack
    return stack


def _managers_page(person: Person, what: str) -> None:
    if person.role not in _READERS:
        raise ForbiddenError(
            f"{what}: got a {person.role.value}, want a CB admin, an authority admin or an auditor"
        )


# --- accounts ----------------------------------------------------------------------------------


def _accounts_page(
    request: Request,
    person: Person,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    created: Any = None,
    status_code: int = 200,
) -> Response:
    stack = _stack(request)
    lang = language(request)
    t = translator(lang)
    accounts = stack.service.accounts.accounts(person.principal)
    done = request.query_params.get("done", "")
    return portal_page(
        request,
        "portal/accounts.html",
        person=person,
        title=t("portal.accounts.title"),
        section="accounts",
        status_code=status_code,
        context={
            "accounts": accounts,
            "roles": _CREATES.get(person.role, ()),
            "issuers": [i.id for i in stack.transparency.issuers()]
            if person.role is Role.AUTHORITY_ADMIN
            else [],
            "form": form or {},
            "errors": errors or {},
            "created": created,
            "done": t("portal.accounts.disabled") if done == "disabled" else None,
            "moment": t.moment,
        },
    )


@router.get("/portal/accounts", response_class=HTMLResponse)
def accounts_page(request: Request, person: PersonDep) -> Response:
    """The accounts the person may see; a form to create one of the roles it manages."""
    _managers_page(person, "accounts")
    return _accounts_page(request, person)


@router.post("/portal/accounts", response_class=HTMLResponse)
def create_account(  # noqa: PLR0917 (the form's fields are the signature)
    request: Request,
    person: PersonDep,
    role: Annotated[str, Form(max_length=40)] = "",
    name: Annotated[str, Form(max_length=400)] = "",
    login: Annotated[str, Form(max_length=200)] = "",
    issuer_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Create an account; its one-time setup token is shown once, on the answer."""
    _managers_page(person, "accounts")
    t = translator(language(request))
    form = {"role": role, "name": name, "login": login, "issuer_id": issuer_id}
    errors: dict[str, str] = {}
    # Only a role that exists is checked here: which one the person may create, and for which
    # CB, is the registry's decision (a form sent with another is refused there, 403).
    if role not in {r.value for r in Role}:
        errors["role"] = t("portal.accounts.bad_role")
    if not name.strip():
        errors["name"] = t("portal.accounts.name_missing")
    if not login.strip():
        errors["login"] = t("portal.accounts.login_missing")
    cb = issuer_id or (person.principal.issuer_id if person.of_cb else None)
    if role == Role.CB_ADMIN.value and cb is None:
        errors["issuer_id"] = t("portal.accounts.issuer_missing")
    if errors:
        return _accounts_page(request, person, form=form, errors=errors, status_code=400)
    try:
        created = _stack(request).service.accounts.create_account(
            person.principal,
            role=Role(role),
            issuer_id=cb if role in (Role.CB_ADMIN.value, Role.CB_OFFICER.value) else None,
            name=name,
            login=login.strip(),
            actor=person.actor,
        )
    except ConflictError:
        errors["login"] = t("portal.accounts.login_taken")
    except InvalidRequestError as exc:
        field = str(exc).partition(":")[0]
        if field == "issuer_id":
            errors["issuer_id"] = t("portal.accounts.issuer_missing")
        else:
            key = "login" if field == "login" else "name"
            errors[key] = t(f"portal.accounts.bad_{key}")
    except NotFoundError:
        errors["issuer_id"] = t("portal.accounts.issuer_missing")
    if errors:
        return _accounts_page(request, person, form=form, errors=errors, status_code=400)
    return _accounts_page(request, person, created=created, status_code=201)


@router.post("/portal/accounts/{account_id}/disable", response_class=HTMLResponse)
def disable_account(
    request: Request,
    account_id: str,
    person: PersonDep,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Disable an account: its tokens and sessions stop working at once."""
    _managers_page(person, "accounts")
    t = translator(language(request))
    if not reason.strip():
        return _accounts_page(
            request,
            person,
            errors={f"reason-{account_id[:32]}": t("portal.accounts.reason_missing")},
            status_code=400,
        )
    try:
        _stack(request).service.accounts.disable_account(
            person.principal, account_id[:32], reason=reason.strip(), actor=person.actor
        )
    except ConflictError:
        return _accounts_page(
            request,
            person,
            errors={f"reason-{account_id[:32]}": t("portal.accounts.last_admin")},
            status_code=409,
        )
    return RedirectResponse(
        f"/portal/accounts?lang={language(request)}&done=disabled", status_code=303
    )


# --- tokens ------------------------------------------------------------------------------------


def _owners(stack: Stack, person: Person) -> list[AccountView]:
    """The accounts the person may make tokens for: its own, and (a CB admin) its CB's."""
    if person.role is Role.CB_ADMIN:
        return [
            a
            for a in stack.service.accounts.accounts(person.principal)
            if a.disabled_at is None and a.role in (Role.CB_ADMIN, Role.CB_OFFICER)
        ]
    return [stack.service.accounts.account(person.principal, person.principal.account_id)]


def _tokens_page(
    request: Request,
    person: Person,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    created: Any = None,
    status_code: int = 200,
) -> Response:
    stack = _stack(request)
    lang = language(request)
    t = translator(lang)
    tokens = [
        token
        for token in stack.service.accounts.tokens(person.principal)
        if token.purpose != "setup"
    ]
    owners = _owners(stack, person)
    names = {a.account_id: a.name for a in stack.service.accounts.accounts(person.principal)}
    done = request.query_params.get("done", "")
    return portal_page(
        request,
        "portal/tokens.html",
        person=person,
        title=t("portal.tokens.title"),
        section="tokens",
        status_code=status_code,
        context={
            "tokens": tokens,
            "names": names,
            "owners": owners,
            "form": form or {"days": str(TOKEN_DAYS_DEFAULT)},
            "errors": errors or {},
            "created": created,
            "days_max": TOKEN_DAYS_MAX,
            "done": t("portal.tokens.revoked") if done == "revoked" else None,
            "moment": t.moment,
            "now": stack.clock.now(),
        },
    )


@router.get("/portal/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, person: PersonDep) -> Response:
    """The API tokens the person may see (never their secrets), and a form to make one."""
    return _tokens_page(request, person)


@router.post("/portal/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    person: PersonDep,
    label: Annotated[str, Form(max_length=200)] = "",
    days: Annotated[str, Form(max_length=10)] = "",
    account_id: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Make a token; its secret is shown once, on the answer."""
    t = translator(language(request))
    form = {"label": label, "days": days, "account_id": account_id}
    errors: dict[str, str] = {}
    if not 1 <= len(label.strip()) <= 100:
        errors["label"] = t("portal.tokens.label_missing")
    try:
        expires_in_days = int(days)
    except ValueError:
        expires_in_days = 0
    if not 1 <= expires_in_days <= TOKEN_DAYS_MAX:
        errors["days"] = t("portal.tokens.bad_days", n=TOKEN_DAYS_MAX)
    if errors:
        return _tokens_page(request, person, form=form, errors=errors, status_code=400)
    created = _stack(request).service.accounts.create_token(
        person.principal,
        account_id=account_id or None,
        label=label.strip(),
        expires_in_days=expires_in_days,
        actor=person.actor,
    )
    return _tokens_page(request, person, created=created, status_code=201)


@router.post("/portal/tokens/{token_id}/revoke", response_class=HTMLResponse)
def revoke_token(request: Request, token_id: str, person: PersonDep) -> Response:
    _stack(request).service.accounts.revoke_token(
        person.principal, token_id[:32], actor=person.actor
    )
    return RedirectResponse(
        f"/portal/tokens?lang={language(request)}&done=revoked", status_code=303
    )


# --- signing keys ------------------------------------------------------------------------------


def _keys_issuer(request: Request, person: Person) -> str:
    """The CB whose keys: `?issuer=` (a CB's keys are public; proposing one is the registry's
    decision), else the person's own CB."""
    issuer = request.query_params.get("issuer", "")[:64] or person.principal.issuer_id
    if not issuer:
        raise NotFoundError("keys: got no issuer, want ?issuer=<CB id>")
    return issuer


def _keys_page(
    request: Request,
    person: Person,
    issuer_id: str,
    *,
    proposed: Any = None,
    status_code: int = 200,
) -> Response:
    stack = _stack(request)
    t = translator(language(request))
    keys = stack.service.issuers.keys(issuer_id)
    return portal_page(
        request,
        "portal/keys.html",
        person=person,
        title=t("portal.keys.title"),
        section="keys",
        status_code=status_code,
        context={
            "issuer_id": issuer_id,
            "keys": [
                {
                    "key_id": hex0x(k.key_id),
                    "custody": k.custody,
                    "state": k.state,
                    "created": t.date(k.created_at.date()),
                    "approved_seq": k.approved_seq,
                }
                for k in keys
            ],
            "may_propose": person.role is Role.CB_ADMIN,
            "proposed": None if proposed is None else hex0x(proposed.key_id),
        },
    )


@router.get("/portal/keys", response_class=HTMLResponse)
def keys_page(request: Request, person: PersonDep) -> Response:
    """The CB's signing keys (public halves); its admin proposes a hosted one."""
    return _keys_page(request, person, _keys_issuer(request, person))


@router.post("/portal/keys", response_class=HTMLResponse)
def propose_key(request: Request, person: PersonDep) -> Response:
    """Propose a key the registry makes and keeps (`hosted`): it signs nothing until the
    authority approves it. A key the CB keeps itself is proposed with `certreg signing-key
    propose`, which proves possession of its private half on the CB's machine."""
    issuer_id = _keys_issuer(request, person)
    proposed = _stack(request).service.issuers.propose_key(
        issuer_id, custody=Custody.HOSTED, actor=person.actor
    )
    return _keys_page(request, person, issuer_id, proposed=proposed, status_code=201)


# --- the authority: the CBs --------------------------------------------------------------------


@router.get("/portal/issuers", response_class=HTMLResponse)
def issuers_page(request: Request, person: PersonDep) -> Response:
    """Every CB with its admission by the authority's statements, the keys awaiting approval,
    and the command that signs each admission action on the authority's machine."""
    if not person.sees_all:
        raise ForbiddenError(
            f"issuers: got a {person.role.value}, want an authority admin or an auditor"
        )
    stack = _stack(request)
    lang = language(request)
    t = translator(lang)
    admissions = {view.issuer_id: view for view in stack.service.governance.admissions()}
    rows = []
    for profile in stack.transparency.issuers():
        admission = admissions.get(profile.id)
        proposed = [
            hex0x(k.key_id) for k in stack.service.issuers.keys(profile.id) if k.state == "proposed"
        ]
        status = "none" if admission is None else admission.status
        rows.append(
            {
                "id": profile.id,
                "name": profile.name_vi if lang == "vi" else profile.name_en,
                "accreditation": profile.accreditation,
                "kinds": [t.get(f"kind.{k}", k) for k in profile.kinds],
                "status": status,
                "status_label": t(f"portal.issuers.status.{status}"),
                "admission_seq": None if admission is None else admission.admission_seq,
                "status_seq": None if admission is None else admission.status_seq,
                "proposed": proposed,
                "commands": _commands(profile.id, status),
            }
        )
    return portal_page(
        request,
        "portal/issuers.html",
        person=person,
        title=t("portal.issuers.title"),
        section="issuers",
        context={"rows": rows, "may_act": person.role is Role.AUTHORITY_ADMIN},
    )


_KEY = "--key <authority key file>"


def _commands(issuer_id: str, status: str) -> list[str]:
    """The `certreg authority` commands that apply to a CB in `status`."""
    reason = '--reason "<why>"'
    if status == "none":
        # adopt takes every CB admitted before the statements at once
        return [
            f"certreg authority adopt {_KEY} --accreditation-body <body> --valid-until <YYYY-MM-DD>"
        ]
    by_status = {
        "admitted": ("suspend", "withdraw"),
        "suspended": ("reinstate", "withdraw"),
        "withdrawn": (),
    }
    commands = [
        f"certreg authority {action} {_KEY} --issuer {issuer_id} {reason}"
        for action in by_status.get(status, ())
    ]
    if status == "admitted":
        commands.append(
            f"certreg authority admit --change-scope {_KEY} --issuer {issuer_id} … {reason}"
        )
    return commands


def approve_command(issuer_id: str, key_id: str) -> str:
    """The command that approves a proposed key (the keys and CB pages show it)."""
    return f"certreg authority approve-key {_KEY} --issuer {issuer_id} --key-id {key_id}"
