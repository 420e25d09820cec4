"""What a person is shown: a certificate's fields, the verdict and each check in plain language,
and the checkpoint — in one language, from plain JSON records, bundles and verdicts.

Shared by the verification pages and the printable certificate. Records may come from an
uploaded file, so every field is read defensively: a record of the wrong shape is shown as well
as it can be (its verdict is INVALID anyway) and never crashes the page.
"""

import datetime as dt
import enum
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from api.web.i18n import Translator
from api.web.qr import digest, group_digest
from registry.core.disclosure import hash_record, is_v2, open_record
from registry.core.errors import CoreError
from registry.core.verify import CHECK_NAMES, Check, CheckStatus, Verdict, VerdictStatus
from registry.kinds import PROVINCES

__all__ = [
    "CheckView",
    "CheckpointView",
    "Details",
    "IssuerInfo",
    "Outcome",
    "Row",
    "VerdictView",
    "check_views",
    "checkpoint_view",
    "details",
    "nfc",
    "outcome_of",
    "registered_hash",
    "verdict_view",
]


class Outcome(enum.StrEnum):
    """What the page says: one of the verdicts of docs/spec.md §9 as a person needs them
    (`UNKNOWN` is "not found", `UNCONFIRMED` "could not check")."""

    VALID = "valid"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    PENDING = "pending"
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    UNAVAILABLE = "unavailable"
    STALE = "stale"


#: colour family of each outcome (never shown alone: each has an icon and words too)
TONES: Final = {
    Outcome.VALID: "ok",
    Outcome.SUSPENDED: "warn",
    Outcome.WITHDRAWN: "bad",
    Outcome.EXPIRED: "warn",
    Outcome.SUPERSEDED: "info",
    Outcome.PENDING: "warn",  # amber: not yet confirmed, never shown as valid
    Outcome.NOT_FOUND: "bad",
    Outcome.INVALID: "bad",
    Outcome.UNAVAILABLE: "neutral",
    Outcome.STALE: "neutral",
}

_FROM_VERDICT: Final = {
    VerdictStatus.VALID: Outcome.VALID,
    VerdictStatus.SUSPENDED: Outcome.SUSPENDED,
    VerdictStatus.WITHDRAWN: Outcome.WITHDRAWN,
    VerdictStatus.EXPIRED: Outcome.EXPIRED,
    VerdictStatus.SUPERSEDED: Outcome.SUPERSEDED,
    VerdictStatus.PENDING: Outcome.PENDING,
    VerdictStatus.INVALID: Outcome.INVALID,
    VerdictStatus.UNKNOWN: Outcome.NOT_FOUND,
    VerdictStatus.UNCONFIRMED: Outcome.UNAVAILABLE,
    VerdictStatus.STALE: Outcome.STALE,
}

#: subject keys given in both languages as `<key>_vi` and `<key>_en`
_PAIRED: Final = ("instrument", "scope", "product", "goods", "sample")
#: the order subject fields are shown in: what it is first, then how it is identified
_SUBJECT_ORDER: Final = (
    "product", "instrument", "goods", "sample", "scope", "model", "serial", "sample_code",
    "lot", "quantity_t", "hs_code", "procedure", "method", "sites",
)  # fmt: skip


def nfc(text: str) -> str:
    """Text as shown: NFC, so that decomposed Vietnamese renders and prints precomposed."""
    return unicodedata.normalize("NFC", text)


def _text(value: object, limit: int = 500) -> str:
    """Any JSON value as short display text."""
    if isinstance(value, str):
        shown = value
    elif isinstance(value, bool) or value is None:
        shown = "" if value is None else str(value).lower()
    elif isinstance(value, int | float):
        shown = str(value)
    elif isinstance(value, list):
        shown = ", ".join(_text(v, limit) for v in value)
    else:
        shown = str(value)
    shown = nfc(shown)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def outcome_of(verdict: Verdict) -> Outcome:
    """The page's outcome for a verdict."""
    return _FROM_VERDICT[verdict.status]


def registered_hash(bundle: Mapping[str, Any]) -> bytes | None:
    """The record hash the registry anchored for this certificate: the status leaf's, else the
    event's (a pending certificate), else that of the bundle's record."""
    proof = bundle.get("status_proof")
    leaf = proof.get("leaf") if isinstance(proof, Mapping) else None
    event = bundle.get("event")
    candidates = []
    if isinstance(leaf, Mapping):
        candidates.append(leaf.get("record_hash"))
    if isinstance(event, Mapping) and event.get("certificate_id") == bundle.get("certificate_id"):
        candidates.append(event.get("record_hash"))
    for candidate in candidates:
        if isinstance(candidate, str) and len(candidate) == 66 and candidate.startswith("0x"):
            try:
                return bytes.fromhex(candidate[2:])
            except ValueError:
                continue
    record = bundle.get("record")
    if isinstance(record, Mapping):
        try:
            return hash_record(record)
        except (CoreError, ValueError, TypeError, RecursionError):
            return None
    return None


# --- the certificate's fields ---------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One labelled value."""

    key: str
    label: str
    value: str
    mono: bool = False


@dataclass(frozen=True)
class IssuerInfo:
    """An issuer as the registry knows it (names and accreditation are not in the record)."""

    id: str
    name_vi: str
    name_en: str
    accreditation: str
    #: its admission's status by the authority's statements now (admitted, suspended,
    #: withdrawn), or None for a CB admitted before them
    standing: str | None = None
    #: who keeps the key that signed the certificate (`held`, `hosted`) and the log position
    #: of the authority's approval that says so, as the verdict checked them (spec §9.2); None
    #: for a key registered before the authority approved keys, or an approval not checked
    key_custody: str | None = None
    key_approval_seq: int | None = None

    def name(self, lang: str) -> str:
        return nfc(self.name_vi if lang == "vi" else self.name_en)

    def other_name(self, lang: str) -> str:
        return nfc(self.name_en if lang == "vi" else self.name_vi)


@dataclass(frozen=True)
class Details:
    """A certificate's key fields, labelled in one language."""

    certificate_id: str
    number: str
    kind: str
    holder: list[Row]
    subject: list[Row]
    standards: list[str]
    dates: list[Row]
    other: list[Row]
    issuer_id: str
    issuer: IssuerInfo | None
    digest: str | None  # grouped, e.g. 8fbd 488f 2e80 33dc
    valid_from: str | None = None
    valid_until: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    #: the CB the authority transferred the certificate to, whose event the bundle carries
    #: (docs/spec.md §9.2 `issuer_signature`), as the registry knows it; `issuer` stays the
    #: record's CB, which issued it
    transferred_to: IssuerInfo | None = None
    #: fields of a format-2 record this copy does not show (restricted, docs/spec.md §2b)
    withheld: int = 0


def _subject_rows(subject: Mapping[str, Any], t: Translator) -> list[Row]:
    rows = []
    seen: set[str] = set()
    for raw_key, raw_value in subject.items():
        if not isinstance(raw_key, str) or raw_key in seen:
            continue
        key, value = raw_key, raw_value
        base, _, suffix = raw_key.rpartition("_")
        if suffix in ("vi", "en") and base in _PAIRED:
            if base in seen:
                continue
            mine = subject.get(f"{base}_{t.lang}")
            other = subject.get(f"{base}_{'en' if t.lang == 'vi' else 'vi'}")
            key, value = base, mine if mine not in (None, "") else other
        seen.add(key)
        label = t.get(f"subject.{key}", key.replace("_", " ").capitalize())
        shown = _text(value)
        if key == "result":  # format 2's enumerated results, in the page's language
            shown = t.get(f"result.{shown}", shown)
        rows.append(Row(key=key, label=label, value=shown))
    order = {key: i for i, key in enumerate(_SUBJECT_ORDER)}
    return sorted(rows, key=lambda row: order.get(row.key, len(order)))


#: format-2 fields shown outside the subject (dates, standards, ids, holder)
_COMMON_V2: Final = frozenset(
    {"id", "issuer_id", "kind", "number", "issued_on", "valid_from", "valid_until", "standards",
     "supersedes", "attachments", "results_sha256", "province"}
)  # fmt: skip


#: format-2 fields shown under another subject key than their name (a paired name, or one
#: whose format-1 meaning differs: format 1's `sites` is a count)
_V2_SUBJECT_KEYS: Final = {"instrument": "instrument_vi", "sites": "site_list"}


def _show_item(item: Mapping[str, Any]) -> str:
    """One entry of a format-2 list field (a measured point, a test result, a site)."""
    if "expanded_uncertainty" in item:
        unit = item.get("unit", "")
        u_unit = item.get("uncertainty_unit") or unit
        return (
            f"{item.get('quantity')}: {item.get('value')} {unit} ± "
            f"{item.get('expanded_uncertainty')} {u_unit} (k = {item.get('coverage_factor')})"
        )
    if "parameter" in item:
        unit = f" {item['unit']}" if item.get("unit") else ""
        limit = f" ({item['limit']})" if item.get("limit") else ""
        return f"{item.get('parameter')}: {item.get('value')}{unit}{limit}"
    if "address" in item:
        return f"{item['name']}: {item['address']}" if item.get("name") else str(item["address"])
    return "; ".join(f"{k}: {_text(v)}" for k, v in item.items())


def _format_2_view(record: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """A format-2 record's disclosed fields in the shape `details` reads (holder, subject),
    and how many fields it withholds; nothing for a record that does not open (the verdict
    says why)."""
    try:
        opened = open_record(record, require=frozenset())
    except (CoreError, ValueError, TypeError, RecursionError):
        return {}, 0
    fields = opened.fields
    code = fields.get("province")
    holder = {
        "name": fields.get("holder_name"),
        "tax_code": fields.get("holder_tax_code"),
        "address": fields.get("holder_address"),
        "province": PROVINCES.get(code) if isinstance(code, str) else None,
    }
    subject: dict[str, Any] = {}
    for key, value in fields.items():
        if key in _COMMON_V2 or key.startswith("holder_"):
            continue
        items = isinstance(value, list) and any(isinstance(v, Mapping) for v in value)
        subject[_V2_SUBJECT_KEYS.get(key, key)] = (
            [_show_item(v) if isinstance(v, Mapping) else v for v in value] if items else value
        )
    if "quantity" in subject and "quantity_unit" in subject:
        subject["quantity"] = f"{subject['quantity']} {subject.pop('quantity_unit')}"
    view = {k: fields[k] for k in _COMMON_V2 if k in fields} | {
        "holder": holder,
        "subject": subject,
    }
    return view, opened.withheld


def shown_fields(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """The record's fields as pages and PDFs read them: a format-1 record as it is, a
    format-2 record's disclosed fields (holder and subject grouped as in format 1)."""
    return _format_2_view(record)[0] if is_v2(record) else record


def details(
    record: Mapping[str, Any],
    *,
    issuer: IssuerInfo | None,
    t: Translator,
    record_hash: bytes | None,
    transferred_to: IssuerInfo | None = None,
) -> Details:
    """The fields of `record` (plain JSON) in `t`'s language; `transferred_to`: the CB the
    authority transferred the certificate to, when the verdict checked that."""
    withheld = 0
    if is_v2(record):
        record, withheld = _format_2_view(record)
    holder_raw = record.get("holder")
    holder: list[Row] = []
    if isinstance(holder_raw, Mapping):
        for key in ("name", "tax_code", "address", "province"):
            if holder_raw.get(key) not in (None, ""):
                label = t("field.holder") if key == "name" else t(f"field.{key}")
                holder.append(Row(key=key, label=label, value=_text(holder_raw.get(key))))
    elif holder_raw is not None:
        holder.append(Row(key="name", label=t("field.holder"), value=_text(holder_raw)))

    subject = record.get("subject")
    subject_rows = _subject_rows(subject, t) if isinstance(subject, Mapping) else []
    subject_rows_keys = {row.key for row in subject_rows}

    standards_raw = record.get("standards")
    standards = (
        [_text(s) for s in standards_raw]
        if isinstance(standards_raw, list)
        else ([] if standards_raw is None else [_text(standards_raw)])
    )

    valid_from = _date(record.get("valid_from"))
    valid_until = _date(record.get("valid_until"))
    dates = [
        Row("issued_on", t("field.issued_on"), t.date(_date(record.get("issued_on"))) or "—"),
        Row("valid_from", t("field.valid_from"), t.date(valid_from) or "—"),
        Row(
            "valid_until",
            t("field.valid_until"),
            t.date(valid_until) if valid_until is not None else t("field.valid_until_none"),
        ),
    ]
    other = []
    if record.get("scheme") not in (None, "") and "scheme" not in subject_rows_keys:
        other.append(Row("scheme", t("field.scheme"), _text(record.get("scheme"))))
    if record.get("results_sha256") not in (None, ""):
        other.append(
            Row("results_sha256", t("field.results_sha256"), _text(record["results_sha256"]), True)
        )
    attachments = record.get("attachments")
    if isinstance(attachments, list) and attachments:
        names = [_text(a.get("name")) if isinstance(a, Mapping) else _text(a) for a in attachments]
        other.append(Row("attachments", t("field.attachments"), ", ".join(names)))

    kind = _text(record.get("kind", ""))
    return Details(
        certificate_id=_text(record.get("id", "")),
        number=_text(record.get("number", "")),
        kind=t.get(f"kind.{kind}", kind),
        holder=holder,
        subject=subject_rows,
        standards=standards,
        dates=dates,
        other=other,
        issuer_id=_text(record.get("issuer_id", "")),
        issuer=issuer,
        digest=None if record_hash is None else group_digest(digest(record_hash)),
        valid_from=t.date(valid_from) if valid_from else None,
        valid_until=t.date(valid_until) if valid_until else None,
        transferred_to=transferred_to,
        withheld=withheld,
    )


def _date(value: object) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


# --- the verdict and its checks ---------------------------------------------------------------


@dataclass(frozen=True)
class CheckView:
    name: str
    title: str
    status: str  # passed | failed | skipped | error
    status_label: str
    sentence: str
    code: str
    message: str


@dataclass(frozen=True)
class CheckpointView:
    index: int
    tree_size: int
    block_number: int | None
    chain_id: int | None
    contract: str | None
    tx_hash: str | None
    tx_url: str | None
    anchored_at: str | None


@dataclass(frozen=True)
class VerdictView:
    outcome: Outcome
    tone: str
    title: str
    summary: str
    notes: list[str]  # dates, reason, …: short sentences under the summary
    why: list[str]  # for invalid / unavailable: what failed, in plain words
    #: the status is the authority's action on the certificate, as the verdict checked it
    by_authority: bool = False
    #: the certificate's events are those of the CB the authority transferred it to, as the
    #: verdict checked it
    transferred: bool = False


def _params(bundle: Mapping[str, Any], shown: Details | None, t: Translator) -> dict[str, object]:
    checkpoint = bundle.get("checkpoint")
    anchor = bundle.get("anchor")
    event = bundle.get("event")
    params: dict[str, object] = {
        "digest": (shown.digest if shown else None) or "—",
        "issuer": (
            shown.issuer.name(t.lang)
            if shown and shown.issuer
            else (shown.issuer_id if shown else "—")
        ),
        "valid_from": (shown.valid_from if shown else None) or "—",
        "valid_until": (shown.valid_until if shown else None) or "—",
        "index": "—",
        "tree_size": "—",
        "block": "—",
        "seq": "—",
    }
    if isinstance(checkpoint, Mapping):
        if isinstance(checkpoint.get("index"), int):
            params["index"] = t.number(checkpoint["index"])
        if isinstance(checkpoint.get("tree_size"), int):
            params["tree_size"] = t.number(checkpoint["tree_size"])
    if isinstance(anchor, Mapping) and isinstance(anchor.get("block_number"), int):
        params["block"] = t.number(anchor["block_number"])
    if isinstance(event, Mapping) and isinstance(event.get("seq"), int):
        params["seq"] = t.number(event["seq"])
    signer = event.get("issuer_id") if isinstance(event, Mapping) else None
    if shown is not None and isinstance(signer, str) and signer != shown.issuer_id:
        # the event is the CB's the certificate was transferred to, not the record's
        receiving = shown.transferred_to
        params["issuer"] = (
            receiving.name(t.lang) if receiving is not None and receiving.id == signer else signer
        )
    return params


def check_views(
    verdict: Verdict, bundle: Mapping[str, Any], shown: Details | None, t: Translator
) -> list[CheckView]:
    """Each named check with a plain-language sentence (by its code, else by its status)."""
    params = _params(bundle, shown, t)
    views = []
    for check in verdict.checks:
        sentence = t.get(
            f"check.{check.name}.{check.code}",
            t(f"check.{check.name}.{check.status.value}", **params),
            **params,
        )
        views.append(
            CheckView(
                name=check.name,
                title=t(f"check.{check.name}.title"),
                status=check.status.value,
                status_label=t(f"check.status.{check.status.value}"),
                sentence=sentence,
                code=check.code,
                message=check.message,
            )
        )
    return views


def checkpoint_view(
    bundle: Mapping[str, Any],
    *,
    explorer_tx_url: str | None,
    anchored_at: dt.datetime | None,
    t: Translator,
) -> CheckpointView | None:
    checkpoint = bundle.get("checkpoint")
    if not isinstance(checkpoint, Mapping):
        return None
    index, tree_size = checkpoint.get("index"), checkpoint.get("tree_size")
    if not isinstance(index, int) or not isinstance(tree_size, int):
        return None
    anchor = bundle.get("anchor")
    anchor = anchor if isinstance(anchor, Mapping) else {}
    tx_hash = anchor.get("tx_hash")
    tx_hash = tx_hash if isinstance(tx_hash, str) else None
    block = anchor.get("block_number")
    chain_id = anchor.get("chain_id")
    contract = anchor.get("contract")
    return CheckpointView(
        index=index,
        tree_size=tree_size,
        block_number=block if isinstance(block, int) else None,
        chain_id=chain_id if isinstance(chain_id, int) else None,
        contract=contract if isinstance(contract, str) else None,
        tx_hash=tx_hash,
        tx_url=(explorer_tx_url + tx_hash) if explorer_tx_url and tx_hash else None,
        anchored_at=None if anchored_at is None else t.moment(anchored_at),
    )


def _reason(event: Mapping[str, Any], t: Translator) -> str | None:
    reason = event.get("reason")
    if not isinstance(reason, str) or not reason:
        return None
    code, sep, note = reason.partition(": ")
    label = t.get(f"reason.{code}", "")
    if not label:
        return _text(reason, 300)
    return f"{label} — {_text(note, 300)}" if sep else label


def _notes(
    outcome: Outcome,
    verdict: Verdict | None,
    bundle: Mapping[str, Any],
    shown: Details | None,
    t: Translator,
) -> list[str]:
    """Short sentences under the verdict: until when, since when, why, when anchored."""
    notes: list[str] = []
    event = bundle.get("event")
    event = event if isinstance(event, Mapping) else {}
    if outcome is Outcome.VALID and shown is not None:
        validity = verdict.check("validity_period").code if verdict else ""
        if validity == "not_yet_valid":
            notes.append(t("verdict.not_yet_valid", date=shown.valid_from))
        elif shown.valid_until:
            notes.append(t("verdict.until", date=shown.valid_until))
        else:
            notes.append(t("verdict.no_expiry"))
    elif outcome is Outcome.EXPIRED and shown is not None and shown.valid_until:
        notes.append(t("verdict.expired_on", date=shown.valid_until))
    elif verdict is not None and _by_authority(outcome, verdict):
        notes += _authority_notes(outcome, verdict, t)
    elif outcome in (Outcome.SUSPENDED, Outcome.WITHDRAWN, Outcome.SUPERSEDED):
        since = _date(str(event.get("at", ""))[:10])
        if since is not None:
            notes.append(t("verdict.since", date=t.date(since)))
        reason = _reason(event, t)
        if reason:
            notes.append(t("verdict.reason", reason=reason))
    elif outcome is Outcome.PENDING:
        due = bundle.get("next_checkpoint_due")
        try:
            moment = dt.datetime.strptime(str(due), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            return notes
        notes.append(t("verdict.pending_due", time=t.moment(moment)))
    if _transferred(outcome, verdict):
        assert verdict is not None
        notes.append(_transfer_note(verdict, event, shown, t))
    return notes


def _transferred(outcome: Outcome, verdict: Verdict | None) -> bool:
    """Whether the page says the certificate was transferred: the verdict checked the
    authority's transfer to the event's CB (docs/spec.md §9.2 `issuer_signature`) and the page
    shows the certificate as genuine."""
    return (
        verdict is not None
        and verdict.transfer_seq is not None
        and verdict.transferred_from is not None
        and outcome not in (Outcome.INVALID, Outcome.UNAVAILABLE, Outcome.NOT_FOUND)
    )


def _transfer_note(
    verdict: Verdict, event: Mapping[str, Any], shown: Details | None, t: Translator
) -> str:
    """Issued by the record's CB, transferred by the authority to the event's: by the names
    the page has for them, else their ids."""
    original: str = verdict.transferred_from or ""
    receiving = str(event.get("issuer_id", ""))
    if shown is not None and shown.issuer is not None and shown.issuer.id == original:
        original = shown.issuer.name(t.lang)
    to = shown.transferred_to if shown is not None else None
    if to is not None and to.id == receiving:
        receiving = to.name(t.lang)
    return t(
        "verdict.transferred",
        original=original,
        receiving=receiving,
        seq=t.number(verdict.transfer_seq or 0),
    )


def _authority_notes(outcome: Outcome, verdict: Verdict, t: Translator) -> list[str]:
    """Since when and why the authority suspended or withdrew the certificate, and whether its
    signature on that was checked."""
    notes = []
    since = _date(str(verdict.authority_action_at or "")[:10])
    if since is not None:
        notes.append(t("verdict.since", date=t.date(since)))
    notes.append(
        t(
            f"verdict.by_authority.{outcome.value}",
            seq=t.number(verdict.authority_action_seq or 0),
            reason=_text(verdict.authority_action_reason or "", 300),
        )
    )
    if not verdict.status_set_by_authority:
        notes.append(t("verdict.by_authority.unchecked"))
    return notes


def _by_authority(outcome: Outcome, verdict: Verdict | None) -> bool:
    """Whether the page's status is the authority's action on the certificate (docs/spec.md
    §9.2 `certificate_status`), not its issuer's event."""
    return (
        outcome in (Outcome.SUSPENDED, Outcome.WITHDRAWN)
        and verdict is not None
        and verdict.authority_action_seq is not None
    )


def verdict_view(
    outcome: Outcome,
    verdict: Verdict | None,
    bundle: Mapping[str, Any],
    shown: Details | None,
    t: Translator,
) -> VerdictView:
    """The banner: outcome title, a summary sentence, and the notes that explain it."""
    why: list[str] = []
    if verdict is not None and outcome in (Outcome.INVALID, Outcome.UNAVAILABLE, Outcome.STALE):
        wanted = CheckStatus.FAILED if outcome is Outcome.INVALID else CheckStatus.ERROR
        for view in check_views(verdict, bundle, shown, t):
            if view.status == wanted.value and view.sentence not in why:
                why.append(view.sentence)
    by_authority = _by_authority(outcome, verdict)
    transferred = _transferred(outcome, verdict)
    summary = "summary_authority" if by_authority else "summary"
    if transferred and outcome is Outcome.SUPERSEDED:
        summary = "summary_transferred"  # not "from the same issuer": from the receiving CB
    return VerdictView(
        outcome=outcome,
        tone=TONES[outcome],
        title=t(f"verdict.{outcome.value}.title"),
        summary=t(f"verdict.{outcome.value}.{summary}", **_params(bundle, shown, t)),
        notes=_notes(outcome, verdict, bundle, shown, t),
        why=why,
        by_authority=by_authority,
        transferred=transferred,
    )


def not_found_verdict(certificate_id: str | None = None) -> Verdict:
    """A verdict for an id that names no certificate (shown without checks)."""
    checks = tuple(
        Check(name, CheckStatus.SKIPPED, "no_record", "no certificate was issued under this id")
        for name in CHECK_NAMES
    )
    return Verdict(status=VerdictStatus.UNKNOWN, checks=checks, certificate_id=certificate_id)
