"""The portal's issuing pages: a form per kind of typed certificate (format 2, docs/spec.md
§2c), checked on the server, a review page, then the same service call as
`POST /v1/certificates`; and a certificate's replacement — supersede, or correct and reissue —
through the same form, prefilled from its record, then `POST /v1/certificates/{id}/supersede`'s
call (§11.4).

The form is the kind's model laid out as inputs (`specs`): its fields, required or not, with
their patterns and lengths, read from the model's JSON Schema; lists of text as one input of
`;`-separated items; lists of items (measured points, test results, sites, attachments) as
numbered rows of inputs, three at first and more on request (a submit button: no script).
What a person typed is kept as text (`values`, input name → text) from page to page: the
review page carries it in hidden fields, and the last step reads and checks it again, trusting
nothing the browser sent back.

Issuing is one call, `issue_now`, from the review page's form: a step before it (a draft that
a second person approves) goes in there. Only a CB's officers issue, with the CB's hosted key;
a CB that keeps its own key gets the submission as JSON and the `certreg issue … --key`
command for it.
"""

import functools
import json
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import URL

from api.deps import CSRF_FIELD
from api.stack import Stack
from api.web.i18n import Translator, translator
from api.web.portal.auth import Person, PersonDep
from api.web.portal.certificates import active_custody, visible_certificate
from api.web.portal.render import language, portal_page
from api.web.present import nfc
from registry.accounts import Role
from registry.core.canonical import canonical_json
from registry.core.disclosure import is_v2
from registry.core.governance import Custody
from registry.core.lifecycle import SUPERSEDABLE
from registry.errors import ConflictError, ForbiddenError, IllegalTransitionError
from registry.fields import CertificateKind
from registry.kinds import PROVINCES, DecimalText, TypedModel, model_of, restricted_fields
from registry.records import certificate_id_for, record_fields, submitted_fields
from registry.service import CertificateView, IssueResult

__all__ = [
    "SUPERSEDE_REASONS",
    "Spec",
    "issue_now",
    "router",
    "specs",
    "submission_of",
    "values_of",
]

router = APIRouter(include_in_schema=False)

#: rows a list of items shows at first, and how many more the "more rows" button adds
GROUP_ROWS: Final = 3
MORE_ROWS: Final = 3
#: rows a form may have: Starlette reads at most 1,000 fields of a form
_MAX_ROWS: Final = 100
#: the reason codes offered for a replacement (api/schemas.py `ReasonCode`; spec §11.4)
SUPERSEDE_REASONS: Final = ("renewal", "error-in-issue", "holder-request", "other")
#: a correction's code: the certificate as issued was wrong
CORRECTION: Final = "error-in-issue"
_NOTE_MAX: Final = 300
_SKIPPED: Final = frozenset({"format", "kind", "issuer_id"})
#: the buttons' names: what was pressed, not what was typed
_BUTTONS: Final = frozenset({"more", "change", "go", "draft"})
_HOLDER: Final = (
    "holder_name",
    "holder_tax_code",
    "holder_id_number",
    "holder_address",
    "province",
)
_CERTIFICATE: Final = ("number", "issued_on", "valid_from", "valid_until", "standards")
#: the catalogue's name of a list of items' item (`portal.issue.item.<name>.<field>`)
_ITEMS: Final = {
    ("calibration", "results"): "calibration",
    ("test-report", "results"): "test",
    ("management-system", "sites"): "site",
}
#: fields a model check (not the schema) requires, per kind
_ALSO_REQUIRED: Final = {
    "standards": frozenset(
        {
            CertificateKind.PRODUCT_CONFORMITY,
            CertificateKind.REGULATION_CONFORMITY,
            CertificateKind.MANAGEMENT_SYSTEM,
        }
    )
}
_LONG_TEXT: Final = frozenset({"scope_vi", "scope_en", "findings", "traceability"})
_DECIMAL: Final = str(typing.get_args(DecimalText)[1].pattern)
_DMY: Final = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_ROW_NAME: Final = re.compile(r"([a-z_]+)-([0-9]{1,3})-([a-z_0-9]+)")
_IAF_PATTERN: Final = r"\s*[0-9]{1,2}(\s*;\s*[0-9]{1,2})*\s*;?\s*"


# --- the form of a kind -----------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One field of a kind's form, as the model's JSON Schema describes it. `widget`: `text`,
    `long` (several lines), `date`, `decimal`, `province`, `choice`, `list` (items separated by
    `;`) or `group` (numbered rows of `items`)."""

    key: str
    widget: str
    required: bool
    restricted: bool = False
    pattern: str | None = None
    maxlength: int | None = None
    choices: tuple[str, ...] = ()
    integers: bool = False
    items: tuple["Spec", ...] = ()
    max_items: int | None = None


def _spec(
    key: str, prop: Mapping[str, Any], defs: Mapping[str, Any], *, required: bool, restricted: bool
) -> Spec:
    schema = next((v for v in prop.get("anyOf", [prop]) if v.get("type") != "null"), prop)
    shape: dict[str, Any] = {"key": key, "required": required, "restricted": restricted}
    item = schema.get("items", {})
    if key == "province":
        shape["widget"] = "province"
    elif schema.get("format") == "date":
        shape["widget"] = "date"
    elif "enum" in schema:
        shape |= {"widget": "choice", "choices": tuple(schema["enum"])}
    elif schema.get("type") == "integer":
        values = range(schema["minimum"], schema["maximum"] + 1)
        shape |= {"widget": "choice", "choices": tuple(map(str, values)), "integers": True}
    elif "$ref" in item:
        definition = defs[item["$ref"].rsplit("/", 1)[-1]]
        inner = set(definition.get("required", ()))
        items = tuple(
            _spec(name, p, defs, required=name in inner, restricted=False)
            for name, p in definition["properties"].items()
        )
        shape |= {"widget": "group", "items": items, "max_items": schema.get("maxItems")}
    elif schema.get("type") == "array":
        integers = item.get("type") == "integer"
        shape |= {
            "widget": "list",
            "pattern": _IAF_PATTERN if integers else None,
            "integers": integers,
            "max_items": schema.get("maxItems"),
        }
    elif schema.get("pattern") == _DECIMAL:
        shape |= {"widget": "decimal", "pattern": _DECIMAL}
    else:
        shape |= {
            "widget": "long" if key in _LONG_TEXT else "text",
            "pattern": schema.get("pattern"),
            "maxlength": schema.get("maxLength"),
        }
    return Spec(**shape)


@functools.cache
def specs(kind: CertificateKind) -> tuple[Spec, ...]:
    """The fields of `kind`'s form, in the model's order."""
    schema = model_of(kind).model_json_schema()
    required = set(schema.get("required", ()))
    restricted = restricted_fields(kind)
    return tuple(
        _spec(
            name,
            prop,
            schema.get("$defs", {}),
            required=name in required or kind in _ALSO_REQUIRED.get(name, ()),
            restricted=name in restricted,
        )
        for name, prop in schema["properties"].items()
        if name not in _SKIPPED
    )


def _groups(kind: CertificateKind) -> dict[str, Spec]:
    return {s.key: s for s in specs(kind) if s.widget == "group"}


def _row_counts(kind: CertificateKind, values: Mapping[str, str]) -> dict[str, int]:
    """Rows each list of items shows: what the form said (`rows-<field>`), at least the rows
    filled in and `GROUP_ROWS`, at most what the model takes and `_MAX_ROWS`."""
    counts = {}
    filled: dict[str, int] = {}
    for name in values:
        match = _ROW_NAME.fullmatch(name)
        if match is not None and values[name]:
            group, n = match.group(1), int(match.group(2))
            filled[group] = max(filled.get(group, 0), n)
    for key, spec in _groups(kind).items():
        asked = values.get(f"rows-{key}", "")
        wanted = max(GROUP_ROWS, filled.get(key, 0), int(asked) if asked.isdigit() else 0)
        counts[key] = min(wanted, spec.max_items or _MAX_ROWS, _MAX_ROWS)
    return counts


# --- text to a submission, and back ---------------------------------------------------------------


def _date(text: str) -> str:
    """YYYY-MM-DD as a date input sends it, or DD/MM/YYYY as a browser without one lets
    people type it."""
    match = _DMY.fullmatch(text)
    if match is None:
        return text
    day, month, year = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}"


def _value(spec: Spec, text: str) -> Any:
    if spec.widget == "date":
        return _date(text)
    if spec.widget == "list":
        items = [item.strip() for item in text.split(";") if item.strip()]
        return [int(i) if spec.integers and i.isdigit() else i for i in items] if items else None
    if spec.integers and text.isdigit():
        return int(text)
    return text


@dataclass(frozen=True)
class Parsed:
    """A form's submission body, and the form row of each item of each list of items (an
    empty row is left out, so the model's item 0 may be row 2)."""

    body: dict[str, Any]
    rows: dict[str, list[int]]


def submission_of(kind: CertificateKind, values: Mapping[str, str]) -> Parsed:
    """The format-2 submission a form's text makes (empty inputs left out)."""
    body: dict[str, Any] = {"format": 2, "kind": kind.value}
    rows: dict[str, list[int]] = {}
    counts = _row_counts(kind, values)
    for spec in specs(kind):
        if spec.widget != "group":
            text = values.get(spec.key, "").strip()
            value = _value(spec, text) if text else None
            if value is not None:
                body[spec.key] = value
            continue
        items = []
        for n in range(1, counts[spec.key] + 1):
            item = {
                i.key: _value(i, values.get(f"{spec.key}-{n}-{i.key}", "").strip())
                for i in spec.items
            }
            item = {k: v for k, v in item.items() if v not in ("", None)}
            if item:
                items.append(item)
                rows.setdefault(spec.key, []).append(n)
        if items:
            body[spec.key] = items
    return Parsed(body, rows)


def values_of(fields: Mapping[str, Any], kind: CertificateKind | str) -> dict[str, str]:
    """A submission's (or a format-2 record's) fields as the form's text: the inverse of
    `submission_of`, to prefill a replacement's form."""
    values: dict[str, str] = {}
    for spec in specs(CertificateKind(kind)):
        value = fields.get(spec.key)
        if value is None:
            continue
        if spec.widget == "group":
            for n, item in enumerate(value, start=1):
                for key, text in item.items():
                    if text is not None:
                        values[f"{spec.key}-{n}-{key}"] = str(text)
        elif isinstance(value, list):
            values[spec.key] = "; ".join(str(v) for v in value)
        else:
            values[spec.key] = str(value)
    return values


# --- errors in plain words --------------------------------------------------------------------

#: a check's message (its start: the field it names) → the catalogue's message
_CHECKS: Final = (
    ("valid_until: got none", "valid_until_pass"),
    ("valid_until:", "date_order"),
    ("standards: got none", "standards_none"),
    ("standards:", "standards_qcvn"),
    ("lot:", "lot_scheme_7"),
    ("iaf_sectors:", "iaf_twice"),
    ("calibration_date:", "calibration_date"),
    ("due_date:", "due_date"),
    ("expanded_uncertainty:", "uncertainty_negative"),
    ("coverage_factor:", "coverage_factor"),
    ("uncertainty_unit:", "uncertainty_unit"),
    ("value:", "value_with_unit"),
    ("quantity, quantity_unit:", "quantity_both"),
)
_BY_TYPE: Final = {
    "missing": "required",
    "string_too_short": "required",
    "too_short": "required",
    "string_pattern_mismatch": "pattern",
    "string_too_long": "too_long",
    "too_long": "too_many",
    "date_from_datetime_parsing": "date",
    "date_parsing": "date",
    "date_type": "date",
    "int_parsing": "integer",
    "int_type": "integer",
    "greater_than_equal": "range",
    "less_than_equal": "range",
    "literal_error": "choice",
    "enum": "choice",
}
#: fields whose only check is a value check, by what they are
_VALUE_OF: Final = {
    "province": "province",
    "number": "number",
    "unit": "unit",
    "uncertainty_unit": "unit",
    "quantity_unit": "unit",
}


def _message(name: str, kind: str, message: str, ctx: Mapping[str, Any], t: Translator) -> str:
    key = name.rsplit("-", 1)[-1]
    if kind == "value_error":
        for start, check_code in _CHECKS:
            if message.startswith(start):
                return t(f"portal.issue.error.{check_code}")
        if key in _VALUE_OF:
            return t(f"portal.issue.error.{_VALUE_OF[key]}")
        return t("portal.issue.error.value", detail=message)
    code = _BY_TYPE.get(kind)
    if code is None:
        return t("portal.issue.error.value", detail=message)
    limit = ctx.get("max_length", "")
    return (
        t(f"portal.issue.error.{code}", n=limit)
        if code in ("too_long", "too_many")
        else t(f"portal.issue.error.{code}")
    )


def _input_of(kind: CertificateKind, loc: tuple[Any, ...], message: str, parsed: Parsed) -> str:
    """The input an error is about: from its location, else from the field its message
    starts with (a check of the whole model or item); '' for the form as a whole."""
    path = [str(p) for p in loc]
    named = message.split(":", 1)[0].split(",", 1)[0].strip()
    groups = _groups(kind)
    if not path:
        return named if any(s.key == named for s in specs(kind)) else ""
    group = groups.get(path[0])
    if group is None:
        return path[0]
    first = next((i.key for i in group.items if i.required), group.items[0].key)
    if len(path) == 1:
        return f"{group.key}-1-{first}"
    index = int(path[1])
    rows = parsed.rows.get(group.key, [])
    n = rows[index] if index < len(rows) else 1
    item = path[2] if len(path) > 2 else named
    if all(i.key != item for i in group.items):
        item = first
    return f"{group.key}-{n}-{item}"


def check(
    kind: CertificateKind, values: Mapping[str, str], t: Translator
) -> tuple[TypedModel | None, dict[str, str], list[str]]:
    """The submission of a form's text if the kind's model takes it; else the errors by input
    name and those of the form as a whole, in `t`'s language."""
    parsed = submission_of(kind, values)
    try:
        return model_of(kind).model_validate(parsed.body), {}, []
    except ValidationError as exc:
        errors: dict[str, str] = {}
        general: list[str] = []
        for item in exc.errors(include_url=False):
            message = str(item["msg"]).removeprefix("Value error, ")
            name = _input_of(kind, tuple(item["loc"]), message, parsed)
            text = _message(name, str(item["type"]), message, item.get("ctx") or {}, t)
            if not name:
                general.append(text)
            else:
                errors.setdefault(name, text)  # the first error of an input is the one to fix
        return None, errors, general


# --- what a page shows --------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    """One input on the page: its name (and id), label, hint, value and error."""

    name: str
    spec: Spec
    label: str
    hint: str
    value: str
    error: str
    required: bool
    options: tuple[tuple[str, str], ...] = ()

    @property
    def group(self) -> bool:
        return False


@dataclass(frozen=True)
class Group:
    """A list of items: a fieldset of numbered rows."""

    key: str
    legend: str
    hint: str
    spec: Spec
    rows: list[tuple[int, list[Input]]]
    count: int
    more: bool
    error: str = ""

    @property
    def group(self) -> bool:
        return True


@dataclass(frozen=True)
class Section:
    key: str
    legend: str
    items: list[Input | Group]


def _label(t: Translator, key: str) -> str:
    for name in (f"portal.issue.field.{key}", f"field.{key}", f"subject.{key}"):
        if t.has(name):
            return t(name)
    return key.replace("_", " ").capitalize()


def _options(spec: Spec, t: Translator) -> tuple[tuple[str, str], ...]:
    if spec.widget == "province":
        return tuple(PROVINCES.items())
    if spec.key == "scheme":
        return tuple((c, t("portal.issue.scheme", n=c)) for c in spec.choices)
    return tuple((c, t.get(f"result.{c}", c)) for c in spec.choices)


def _shown(spec: Spec, value: str) -> str:
    # A date input shows only YYYY-MM-DD; what was typed as DD/MM/YYYY is shown so.
    return _date(value) if spec.widget == "date" else value


def _input(
    spec: Spec,
    *,
    name: str,
    label: str,
    hint_key: str,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    t: Translator,
    required: bool,
) -> Input:
    hint = t.get(hint_key, "")
    if spec.widget == "list" and not hint:
        hint = t("portal.issue.hint.list")
    return Input(
        name=name,
        spec=spec,
        label=label,
        hint=hint,
        value=_shown(spec, values.get(name, "")),
        error=errors.get(name, ""),
        required=required,
        options=_options(spec, t) if spec.widget in ("province", "choice") else (),
    )


def form_sections(
    kind: CertificateKind,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    t: Translator,
) -> list[Section]:
    """The form's inputs in three fieldsets: the certificate, its holder, what it certifies
    (then its attachments)."""
    counts = _row_counts(kind, values)
    parts: dict[str, list[Input | Group]] = {"certificate": [], "holder": [], "subject": []}
    # Attachments (documents by digest) last: what the certificate says comes first.
    for spec in sorted(specs(kind), key=lambda s: s.key == "attachments"):
        section = (
            "certificate"
            if spec.key in _CERTIFICATE
            else "holder"
            if spec.key in _HOLDER
            else "subject"
        )
        if spec.widget != "group":
            parts[section].append(
                _input(
                    spec,
                    name=spec.key,
                    label=_label(t, spec.key),
                    hint_key=f"portal.issue.hint.{spec.key}",
                    values=values,
                    errors=errors,
                    t=t,
                    required=spec.required,
                )
            )
            continue
        items = _ITEMS.get((kind.value, spec.key), "attachment")
        rows = [
            (
                n,
                [
                    _input(
                        item,
                        name=f"{spec.key}-{n}-{item.key}",
                        label=t(f"portal.issue.item.{items}.{item.key}"),
                        hint_key=f"portal.issue.hint.{items}.{item.key}",
                        values=values,
                        errors=errors,
                        t=t,
                        required=n == 1 and spec.required and item.required,
                    )
                    for item in spec.items
                ],
            )
            for n in range(1, counts[spec.key] + 1)
        ]
        limit = min(spec.max_items or _MAX_ROWS, _MAX_ROWS)
        parts[section].append(
            Group(
                key=spec.key,
                legend=_label(t, spec.key if spec.key != "sites" else "site_list"),
                hint=t(f"portal.issue.hint.group.{items}"),
                spec=spec,
                rows=rows,
                count=counts[spec.key],
                more=counts[spec.key] < limit,
            )
        )
    return [Section(key, t(f"portal.issue.section.{key}"), items) for key, items in parts.items()]


@dataclass(frozen=True)
class Shown:
    """A field of the review page: its label, its value in the reader's words, whether the
    public copies withhold it; a list of items is a table (`columns`, `rows`)."""

    label: str
    value: str
    restricted: bool
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def _text_of(spec: Spec, value: Any, t: Translator) -> str:
    if spec.widget == "date":
        return t.date(value)
    if spec.widget == "province":
        return f"{PROVINCES.get(str(value), value)} ({value})"
    if spec.key == "scheme":
        return t("portal.issue.scheme", n=value)
    if spec.widget == "choice":
        return t.get(f"result.{value}", str(value))
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return nfc(str(value))


def review_fields(kind: CertificateKind, submission: TypedModel, t: Translator) -> list[Shown]:
    """Every field the submission sets, in the form's order, as the review page shows it."""
    fields = submission.model_dump(mode="json", exclude_none=True)
    shown = []
    for spec in specs(kind):
        value = fields.get(spec.key)
        if value in (None, []):
            continue
        if spec.widget == "group":
            items = _ITEMS.get((kind.value, spec.key), "attachment")
            columns = [i for i in spec.items if any(i.key in row for row in value)]
            shown.append(
                Shown(
                    label=_label(t, spec.key if spec.key != "sites" else "site_list"),
                    value="",
                    restricted=spec.restricted,
                    columns=[t(f"portal.issue.item.{items}.{i.key}") for i in columns],
                    rows=[
                        [nfc(str(row.get(i.key, ""))) if i.key in row else "—" for i in columns]
                        for row in value
                    ],
                )
            )
            continue
        shown.append(Shown(_label(t, spec.key), _text_of(spec, value, t), spec.restricted))
    return shown


# --- who may issue ------------------------------------------------------------------------------


def _officer(person: Person) -> bool:
    return person.role is Role.CB_OFFICER and person.principal.issuer_id is not None


def _kinds(stack: Stack, person: Person) -> tuple[str, ...]:
    """The kinds the person's CB may issue, as the registry knows it (its admission in force
    may narrow them: the service checks that when it issues)."""
    profile = stack.transparency.issuer(person.principal.issuer_id or "")
    return profile.kinds if profile is not None else ()


def _held(stack: Stack, person: Person) -> bool:
    return active_custody(stack, person.principal.issuer_id or "") == Custody.HELD.value


def issue_now(
    stack: Stack,
    person: Person,
    submission: TypedModel,
    *,
    replacing: str | None = None,
    reason: str | None = None,
) -> IssueResult:
    """Issue `submission` for the person's CB (or issue it in place of `replacing`), signed
    with the CB's hosted key and recorded as the person's act: the review page's one call."""
    issuer_id = person.principal.issuer_id
    assert issuer_id is not None
    if replacing is None:
        return stack.service.issue(issuer_id, submission, actor=person.actor)
    return stack.service.supersede(
        issuer_id, replacing, submission, reason=reason, actor=person.actor
    )


# --- the pages ------------------------------------------------------------------------------------


async def form_values(request: Request) -> dict[str, str]:
    """A form's fields as text (its CSRF token aside); an uploaded file is not text."""
    form = await request.form()
    return {
        name: value for name, value in form.items() if isinstance(value, str) and name != CSRF_FIELD
    }


Values = Annotated[dict[str, str], Depends(form_values)]


@dataclass(frozen=True)
class Replacing:
    """The certificate a replacement's form is for, the reason and note, and whether it is a
    correction (`mode`)."""

    view: CertificateView
    mode: str  # `replace` or `correct`
    reason: str
    note: str


def _context(
    request: Request,
    person: Person,
    kind: CertificateKind,
    *,
    replacing: Replacing | None,
) -> dict[str, Any]:
    lang = language(request)
    if replacing is None:
        base = "/portal/issue"
        back = f"/portal?lang={lang}"
    else:
        base = f"/portal/certificates/{replacing.view.id}/replace"
        back = f"/portal/certificates/{replacing.view.id}?lang={lang}"
    return {
        "kind": kind.value,
        "kind_label": translator(lang).get(f"kind.{kind.value}", kind.value),
        "review_action": f"{base}/review?lang={lang}",
        "issue_action": f"{base}?lang={lang}",
        "back_href": back,
        "replacing": replacing,
        "old_number": nfc(replacing.view.number) if replacing else "",
        "reasons": [(c, translator(lang)(f"reason.{c}")) for c in SUPERSEDE_REASONS],
        "held": _held(request.app.state.stack, person),
    }


def _title(t: Translator, kind: CertificateKind, replacing: Replacing | None) -> str:
    if replacing is None:
        return t("portal.issue.title", kind=t.get(f"kind.{kind.value}", kind.value))
    return t(f"portal.issue.{replacing.mode}.title", number=nfc(replacing.view.number))


def _form_page(  # noqa: PLR0917 (what the page shows)
    request: Request,
    person: Person,
    kind: CertificateKind,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    general: list[str],
    *,
    replacing: Replacing | None = None,
    status_code: int = 200,
    notice: str | None = None,
) -> Response:
    t = translator(language(request))
    sections = form_sections(kind, values, errors, t)
    labels = {name: label for s in sections for name, label in _labels(s, t)}
    for extra in ("reason", "note"):
        labels[extra] = t(f"portal.action.{extra}")
    summary = [(name, labels.get(name, name), text) for name, text in errors.items()]
    return portal_page(
        request,
        "portal/issue.html",
        person=person,
        title=_title(t, kind, replacing),
        section="certificates",
        status_code=status_code,
        switch_to=_switch(kind, replacing),
        context={
            **_context(request, person, kind, replacing=replacing),
            "sections": sections,
            "counts": _row_counts(kind, values),
            "errors": errors,
            "summary": summary,
            "general": general,
            "notice": notice,
        },
    )


def _labels(section: Section, t: Translator) -> list[tuple[str, str]]:
    """Each input's name and what the error summary calls it: a row's input with its list
    and row ("Results, row 2: Unit")."""
    out: list[tuple[str, str]] = []
    for item in section.items:
        if isinstance(item, Group):
            out.extend(
                (i.name, f"{item.legend}, {t('portal.issue.row', n=n).lower()}: {i.label}")
                for n, row in item.rows
                for i in row
            )
        else:
            out.append((item.name, item.label))
    return out


def _switch(kind: CertificateKind, replacing: Replacing | None) -> URL:
    if replacing is None:
        return URL(f"/portal/issue?kind={kind.value}")
    mode = "&mode=correct" if replacing.mode == "correct" else ""
    return URL(f"/portal/certificates/{replacing.view.id}/replace?{mode.lstrip('&')}")


def _review_page(
    request: Request,
    person: Person,
    kind: CertificateKind,
    values: Mapping[str, str],
    submission: TypedModel,
    *,
    replacing: Replacing | None = None,
    status_code: int = 200,
) -> Response:
    t = translator(language(request))
    json_text = json.dumps(
        submission.model_dump(mode="json", exclude_none=True), ensure_ascii=False, indent=1
    )
    if replacing is None:
        cli = "certreg issue certificate.json --key <key file>"
    else:
        cli = (
            f"certreg supersede {replacing.view.id} certificate.json --reason "
            f"{replacing.reason} --key <key file>"
        )
    return portal_page(
        request,
        "portal/issue_review.html",
        person=person,
        title=t("portal.issue.review.title"),
        section="certificates",
        status_code=status_code,
        switch_to=_switch(kind, replacing),
        context={
            **_context(request, person, kind, replacing=replacing),
            "shown": review_fields(kind, submission, t),
            "number": nfc(submission.number),
            "hidden": sorted((k, v) for k, v in values.items() if k not in _BUTTONS),
            "reason_label": t.get(f"reason.{replacing.reason}", "") if replacing else "",
            "json": json_text,
            "cli": cli,
            "review_required": _review_required(request.app.state.stack, person),
        },
    )


def _review_required(stack: Stack, person: Person) -> bool:
    """Whether the person's CB issues only on a second person's decision (spec §11.12)."""
    issuer_id = person.principal.issuer_id
    return (
        issuer_id is not None
        and stack.service.drafts.settings(person.actor, issuer_id).review_required
    )


def _to_draft(
    request: Request, person: Person, submission: TypedModel, replacing: Replacing | None
) -> Response:
    """Keep what the review page showed as a draft (sent for review when the CB requires a
    second person's decision) and go to its page: the draft -> review -> issue flow."""
    stack: Stack = request.app.state.stack
    lang = language(request)
    reason = None
    if replacing is not None:
        reason = replacing.reason + (f": {replacing.note}" if replacing.note else "")
    draft = stack.service.drafts.create(
        person.actor,
        submission,
        supersedes=None if replacing is None else replacing.view.id,
        reason=reason,
    )
    if _review_required(stack, person):
        draft = stack.service.drafts.submit(person.actor, draft.id, revision=draft.revision)
    return RedirectResponse(f"/portal/drafts/{draft.id}?lang={lang}", status_code=303)


def _refused(request: Request, person: Person) -> Response:
    """A page for someone who may not issue: who may, in plain words."""
    t = translator(language(request))
    return portal_page(
        request,
        "portal/issue_kind.html",
        person=person,
        title=t("portal.issue.choose.title"),
        section="certificates",
        status_code=403,
        context={"refused": True, "kinds": []},
    )


def _kind_of(text: str) -> CertificateKind | None:
    try:
        return CertificateKind(text)
    except ValueError:
        return None


@router.get("/portal/issue", response_class=HTMLResponse)
def issue_form(request: Request, person: PersonDep) -> Response:
    """The kinds to choose from; with `?kind=`, that kind's empty form."""
    stack: Stack = request.app.state.stack
    if not _officer(person):
        return _refused(request, person)
    lang = language(request)
    t = translator(lang)
    kinds = _kinds(stack, person)
    kind = _kind_of(request.query_params.get("kind", ""))
    if kind is None or kind.value not in kinds:
        return portal_page(
            request,
            "portal/issue_kind.html",
            person=person,
            title=t("portal.issue.choose.title"),
            section="certificates",
            status_code=200 if kind is None else 404,
            context={
                "refused": False,
                "kinds": [
                    (k, t.get(f"kind.{k}", k), f"/portal/issue?kind={k}&lang={lang}") for k in kinds
                ],
                "held": _held(stack, person),
                "not_admitted": kind is not None,
            },
        )
    return _form_page(request, person, kind, {}, {}, [])


def _posted_kind(values: Mapping[str, str], stack: Stack, person: Person) -> CertificateKind:
    kind = _kind_of(values.get("kind", ""))
    if kind is None or kind.value not in _kinds(stack, person):
        raise ForbiddenError(
            f"kind: got {values.get('kind', '')[:40]!r}, want one of the kinds "
            f"{person.principal.issuer_id} may issue"
        )
    return kind


def _more(kind: CertificateKind, values: dict[str, str]) -> bool:
    """The "more rows" button: `values` then asks for more rows of that list."""
    group = values.get("more", "")
    if group not in _groups(kind):
        return False
    counts = _row_counts(kind, values)
    values[f"rows-{group}"] = str(counts[group] + MORE_ROWS)
    return True


@router.post("/portal/issue/review", response_class=HTMLResponse)
def issue_review(request: Request, person: PersonDep, values: Values) -> Response:
    """The form checked: again with the errors next to their inputs, or the review page."""
    stack: Stack = request.app.state.stack
    if not _officer(person):
        return _refused(request, person)
    kind = _posted_kind(values, stack, person)
    if _more(kind, values):
        return _form_page(request, person, kind, values, {}, [])
    t = translator(language(request))
    submission, errors, general = check(kind, values, t)
    if submission is None:
        return _form_page(request, person, kind, values, errors, general, status_code=400)
    return _review_page(request, person, kind, values, submission)


def _done(lang: str, certificate_id: str, done: str) -> Response:
    return RedirectResponse(
        f"/portal/certificates/{certificate_id}?lang={lang}&done={done}", status_code=303
    )


def _issue_or_explain(  # noqa: PLR0917 (what the page shows)
    request: Request,
    person: Person,
    kind: CertificateKind,
    values: Mapping[str, str],
    submission: TypedModel,
    replacing: Replacing | None,
) -> Response:
    """Issue (or replace) and go to the new certificate's page; a CB that keeps its key is
    shown the command line again, and what the registry refuses is said on the form."""
    stack: Stack = request.app.state.stack
    lang = language(request)
    t = translator(lang)
    if _held(stack, person):
        return _review_page(
            request, person, kind, values, submission, replacing=replacing, status_code=409
        )
    errors: dict[str, str] = {}
    general: list[str] = []
    if values.get("draft") or _review_required(stack, person):
        try:
            return _to_draft(request, person, submission, replacing)
        except ConflictError:
            errors["number"] = t("portal.issue.error.number_taken")
            return _form_page(
                request, person, kind, values, errors, general, replacing=replacing,
                status_code=409,
            )  # fmt: skip
    try:
        if replacing is None:
            result = issue_now(stack, person, submission)
        else:
            note = f": {replacing.note}" if replacing.note else ""
            result = issue_now(
                stack,
                person,
                submission,
                replacing=replacing.view.id,
                reason=f"{replacing.reason}{note}",
            )
    except ConflictError:
        errors["number"] = t("portal.issue.error.number_taken")
        status = 409
    except IllegalTransitionError:
        assert replacing is not None
        now = stack.service.get(replacing.view.id)
        general.append(_not_now(now, t) or t("portal.action.illegal"))
        status = 409
    except ForbiddenError:
        general.append(t("portal.issue.error.not_admitted"))
        status = 403
    else:
        done = "replaced" if replacing else "issued" if result.created else "exists"
        return _done(lang, result.certificate.id, done)
    return _form_page(
        request, person, kind, values, errors, general, replacing=replacing, status_code=status
    )


@router.post("/portal/issue", response_class=HTMLResponse)
def issue_do(request: Request, person: PersonDep, values: Values) -> Response:
    """Issue what the review page showed (or, with "change", back to the form)."""
    stack: Stack = request.app.state.stack
    if not _officer(person):
        return _refused(request, person)
    kind = _posted_kind(values, stack, person)
    if values.get("change"):
        return _form_page(request, person, kind, values, {}, [])
    submission, errors, general = check(kind, values, translator(language(request)))
    if submission is None:
        return _form_page(request, person, kind, values, errors, general, status_code=400)
    return _issue_or_explain(request, person, kind, values, submission, None)


# --- replacing a certificate ------------------------------------------------------------------


def _replaceable(
    stack: Stack, person: Person, certificate_id: str
) -> tuple[CertificateView, CertificateKind]:
    """The certificate, if the person may replace it: its CB's officer (another CB's is not
    found, as on its page)."""
    view = visible_certificate(stack, person, certificate_id)
    if not _officer(person) or person.principal.issuer_id != view.issuer_id:
        raise ForbiddenError(
            f"certificate {view.id}: got a {person.role.value}, want an officer of {view.issuer_id}"
        )
    return view, CertificateKind(view.kind)


def _replacing(view: CertificateView, values: Mapping[str, str]) -> Replacing:
    mode = "correct" if values.get("mode") == "correct" else "replace"
    reason = values.get("reason", "")
    return Replacing(view, mode, reason, nfc(values.get("note", "").strip()))


def _replacement_errors(
    replacing: Replacing, values: Mapping[str, str], t: Translator
) -> dict[str, str]:
    errors = {}
    if values.get("number", "").strip() == replacing.view.number:
        errors["number"] = t("portal.issue.error.number_same")
    if replacing.reason not in SUPERSEDE_REASONS:
        errors["reason"] = t("portal.action.reason_missing")
    if len(replacing.note) > _NOTE_MAX:
        errors["note"] = t("portal.action.note_long", n=_NOTE_MAX)
    return errors


def _not_now(view: CertificateView, t: Translator) -> str | None:
    """Why the certificate cannot be replaced now, or None."""
    if view.status in SUPERSEDABLE:
        return None
    return t("portal.issue.replace.not_now", status=t.get(f"status.{view.status}", view.status))


@router.get("/portal/certificates/{certificate_id}/replace", response_class=HTMLResponse)
def replace_form(request: Request, certificate_id: str, person: PersonDep) -> Response:
    """The form prefilled from the certificate's record, for its replacement (`?mode=correct`:
    a correction); a format-1 record's fields are not the form's, so its form is empty."""
    stack: Stack = request.app.state.stack
    t = translator(language(request))
    view, kind = _replaceable(stack, person, certificate_id)
    mode = request.query_params.get("mode", "")
    reason = CORRECTION if mode == "correct" else "renewal"
    replacing = Replacing(view, "correct" if mode == "correct" else "replace", reason, "")
    notice = _not_now(view, t)
    values: dict[str, str] = {}
    if is_v2(view.record):
        values = values_of(record_fields(view.record), kind)
        values.pop("number", None)  # the replacement's number is a new one
    elif notice is None:
        notice = t("portal.issue.replace.format_1")
    values |= {"mode": replacing.mode, "reason": reason}
    return _form_page(request, person, kind, values, {}, [], replacing=replacing, notice=notice)


@router.post("/portal/certificates/{certificate_id}/replace/review", response_class=HTMLResponse)
def replace_review(
    request: Request, certificate_id: str, person: PersonDep, values: Values
) -> Response:
    """The replacement's form checked: again with its errors, or the review page."""
    stack: Stack = request.app.state.stack
    t = translator(language(request))
    view, kind = _replaceable(stack, person, certificate_id)
    replacing = _replacing(view, values)
    if _more(kind, values):
        return _form_page(request, person, kind, values, {}, [], replacing=replacing)
    submission, errors, general = check(kind, values, t)
    errors = _replacement_errors(replacing, values, t) | errors
    if submission is None or errors:
        return _form_page(
            request, person, kind, values, errors, general, replacing=replacing, status_code=400
        )
    return _review_page(request, person, kind, values, submission, replacing=replacing)


def _already_replaced(stack: Stack, view: CertificateView, submission: TypedModel) -> str | None:
    """The replacement's id if this very submission replaced the certificate already (the
    form sent twice), else None."""
    issuer_id = view.issuer_id
    new_id = certificate_id_for(issuer_id=issuer_id, number=submission.number)
    if view.superseded_by != new_id:
        return None
    fields = record_fields(stack.service.get(new_id).record)
    stored = {k: v for k, v in fields.items() if k not in ("id", "issuer_id", "supersedes")}
    # `same_submission` takes a record that supersedes nothing; this one names the old one.
    return (
        new_id if canonical_json(stored) == canonical_json(submitted_fields(submission)) else None
    )


@router.post("/portal/certificates/{certificate_id}/replace", response_class=HTMLResponse)
def replace_do(
    request: Request, certificate_id: str, person: PersonDep, values: Values
) -> Response:
    """Issue the replacement the review page showed; the old certificate becomes superseded.
    The same form sent again after it went through shows the replacement."""
    stack: Stack = request.app.state.stack
    lang = language(request)
    t = translator(lang)
    view, kind = _replaceable(stack, person, certificate_id)
    replacing = _replacing(view, values)
    if values.get("change"):
        return _form_page(request, person, kind, values, {}, [], replacing=replacing)
    submission, errors, general = check(kind, values, t)
    errors = _replacement_errors(replacing, values, t) | errors
    if submission is None or errors:
        return _form_page(
            request, person, kind, values, errors, general, replacing=replacing, status_code=400
        )
    again = _already_replaced(stack, view, submission)
    if again is not None:
        return _done(lang, again, "exists")
    return _issue_or_explain(request, person, kind, values, submission, replacing)
