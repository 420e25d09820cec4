"""The auditor: check, trusting only the chain and a pinned registry key, that the registry
never rewrote its history, and how a certificate stood at any time.

For every checkpoint on chain: the registry's note is signed by the pinned key and says the
same roots; each consecutive pair is consistent (RFC 9162 proof from the registry, checked
against the chain's roots); the log root recomputed from the downloaded entries equals the
anchored one; the status-map root recomputed by replaying the log (spec §5.7) equals the
anchored one; and every event is signed by a key the chain had in force when the event was
anchored. The authority's entries are replayed beside the events: an event that puts a
certificate in force names the CB's admission in force, and one that names an admission (or
that the CB signed itself, version 2) is signed with a key the authority approved for the CB
earlier in the log and had not revoked. Every answer of the registry is treated as hostile:
a wrong status, shape or count is a named finding, never a crash.
"""

import datetime as dt
import itertools
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

import httpx2
from eth_utils.address import is_hex_address

from anchoring.client import AnchorClient
from anchoring.models import Checkpoint as ChainCheckpoint
from anchoring.succession import Line, line_from, line_through
from registry.core.checkpoint import verify_checkpoint
from registry.core.disclosure import hash_record, is_v2, open_record
from registry.core.encoding import hex0x, parse_hex
from registry.core.errors import CoreError
from registry.core.events import (
    ISSUER_STATEMENT,
    Event,
    EventType,
    issuer_chain_id,
    verify_event_signature,
)
from registry.core.governance import (
    Admission,
    AuthorityEntry,
    CertificateAction,
    GovernanceState,
    IssuerLeaf,
    RevokeKey,
    TransferCertificate,
    admission_covers,
    apply_statement,
    verify_statement,
)
from registry.core.lifecycle import (
    StatusLeaf,
    apply_certificate_action,
    apply_event,
    check_transfer,
)
from registry.core.log import LogTree
from registry.core.note import NoteVerifier
from registry.core.proofs import verify_consistency
from registry.core.statusmap import StatusMap
from verifier.errors import VerifierError

__all__ = ["AuditReport", "AuditUnavailableError", "PointInTime", "audit"]

PAGE = 1000


class AuditUnavailableError(VerifierError):
    """The registry could not be reached at all: nothing was audited (exit code 3)."""


class _Refused(Exception):  # noqa: N818 (internal: a hostile or broken answer, reported)
    """An answer of the registry that is not what was asked for: a finding, not a crash."""


@dataclass
class PointInTime:
    certificate_id: str
    checkpoint_index: int | None
    block_number: int | None
    timestamp: int | None
    status: str  # valid | suspended | withdrawn | superseded | unknown (not issued then)
    event_seq: int | None


@dataclass
class AuditReport:
    checkpoints: int = 0
    events: int = 0  # log entries of both kinds
    signatures_checked: int = 0
    statements: int = 0  # the authority's entries among them (docs/spec.md §3a)
    admissions_checked: int = 0  # certificate events naming the admission in force
    #: certificate events that need their key approved by the authority (naming an admission,
    #: or signed by the CB itself: version 2), checked against the approvals replayed so far
    keys_checked: int = 0
    #: statements whose signature was checked with the pinned authority key (none pinned: 0)
    authority_signatures_checked: int = 0
    #: certificate events checked against their admission's scope with the record the
    #: registry serves (`records=True`: docs/spec.md §11.7)
    scope_checked: int = 0
    #: the authority's `revoke_key` entries whose revocation the chain was checked to carry
    revocations_checked: int = 0
    problems: list[str] = field(default_factory=list)
    at: PointInTime | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checkpoints": self.checkpoints,
            "events": self.events,
            "signatures_checked": self.signatures_checked,
            "statements": self.statements,
            "admissions_checked": self.admissions_checked,
            "keys_checked": self.keys_checked,
            "authority_signatures_checked": self.authority_signatures_checked,
            "scope_checked": self.scope_checked,
            "revocations_checked": self.revocations_checked,
            "problems": self.problems,
            "at": None if self.at is None else self.at.__dict__,
        }


def _get(http: httpx2.Client, path: str, **params: int) -> Any:
    """The JSON of a 200 answer; `_Refused` for anything else (the registry is not trusted)."""
    try:
        response = http.get(path, params=params)
    except httpx2.HTTPError as exc:
        raise AuditUnavailableError(
            f"could not reach the registry at {http.base_url}: {type(exc).__name__}"
        ) from exc
    if response.status_code != 200:
        raise _Refused(f"GET {path}: got HTTP {response.status_code}, want 200")
    try:
        return response.json()
    except ValueError as exc:
        raise _Refused(f"GET {path}: got an answer that is not JSON") from exc


def _pages(http: httpx2.Client, end: int) -> Iterator[object]:
    for start in range(0, end, PAGE):
        stop = min(end, start + PAGE)
        page = _get(http, "/v1/log/entries", start=start, end=stop)
        entries = page.get("entries") if isinstance(page, dict) else None
        if not isinstance(entries, list):
            raise _Refused(f"entries [{start}, {stop}): got no list of entries")
        if len(entries) != stop - start:
            raise _Refused(
                f"entries [{start}, {stop}): got {len(entries)} entries, want {stop - start} "
                "(the anchored size)"
            )
        yield from entries


def audit(
    *,
    client: AnchorClient,
    http: httpx2.Client,
    vkey: NoteVerifier,
    at_block: int | None = None,
    at_time: dt.datetime | None = None,
    certificate_id: str | None = None,
    authority_key: bytes | None = None,
    records: bool = False,
) -> AuditReport:
    """Audit the registry behind `http` against the contract behind `client` (the pinned
    one) and its line of successions (docs/spec.md §7.7): the registry may anchor on a
    successor of the pinned contract, whose start must be its predecessor's checkpoint; the
    checkpoints of the whole line are audited as one history. `authority_key`: the
    authority's raw public key, when the trust entry pins it: every statement in the log must
    be signed with it (docs/spec.md §3a.2). `records`: also fetch the record of every
    certificate put in force under an admission (one request each) and check it was within that
    admission's scope on the day (docs/spec.md §3a.6)."""
    report = AuditReport()
    problems = report.problems
    line = _registry_line(http, vkey, line_from(client), problems)
    _check_line(line, problems)
    chain = line.checkpoints()
    report.checkpoints = len(chain)
    try:
        notes = _registry_checkpoints(http)
    except _Refused as exc:
        problems.append(str(exc))
        notes = {}
    for cp in chain:
        _check_note(cp, notes.get(cp.index), vkey, problems)
    for older, newer in itertools.pairwise(chain):
        _check_consistency(http, older, newer, problems)

    replay = _Replay(
        client=line.newest,  # issuer keys: the newest contract resolves its predecessors'
        chain=chain,
        report=report,
        certificate_id=certificate_id,
        at_checkpoint=_checkpoint_at(chain, at_block=at_block, at_time=at_time),
        authority_key=authority_key,
        records=records,
    )
    end = chain[-1].tree_size if chain else 0
    try:
        for obj in _pages(http, end):
            if not replay.add(obj):
                break
    except _Refused as exc:
        problems.append(str(exc))
    if report.events != end:
        problems.append(f"log: got {report.events} entries, want {end} (anchored)")
    if certificate_id is not None and report.at is None:
        report.at = _point(certificate_id, replay.at_checkpoint, None)
    if records:
        _check_scopes(http, replay.in_scope, report)
    _check_revocations(line.newest, chain, replay.revocations, report)
    return report


#: the events that put a certificate in force: the CB's admission must allow them
_IN_FORCE: Final = frozenset({EventType.ISSUE, EventType.SUPERSEDE, EventType.REINSTATE})


class _Replay:
    """Rebuilds the log and the status map from the entries, checkpoint by checkpoint."""

    def __init__(
        self,
        *,
        client: AnchorClient,
        chain: list[ChainCheckpoint],
        report: AuditReport,
        certificate_id: str | None,
        at_checkpoint: ChainCheckpoint | None,
        authority_key: bytes | None = None,
        records: bool = False,
    ) -> None:
        self.client = client
        self.authority_key = authority_key
        self.pending = list(chain)
        self.report = report
        self.certificate_id = certificate_id
        self.at_checkpoint = at_checkpoint
        self.tree = LogTree()
        self.leaves: dict[str, StatusLeaf] = {}
        self.status_map = StatusMap()
        self.changed: dict[str, StatusLeaf] = {}
        self.keys: dict[tuple[str, bytes], Any] = {}  # the chain's issuer keys, as read
        # the CBs' leaves and the keys the authority approved (`apply_statement` fills both)
        self.governance = GovernanceState()
        self.changed_issuers: dict[str, IssuerLeaf] = {}
        #: per CB: its latest statement's `at`, and the statements of that second
        self.statement_at: dict[str, tuple[dt.datetime, set[bytes]]] = {}
        #: per certificate changed by statements its CB signed (version 2): the latest one's
        #: `at` and the statements of that second (§3.1: in order, each once)
        self.issuer_statement_at: dict[str, tuple[dt.datetime, set[bytes]]] = {}
        #: the admissions (`admit`, `change_scope`) by log position, and, with `records`, the
        #: events put in force under one, to be checked against its scope with their records
        self.records = records
        #: each certificate's CB: the one its issuing event names (a certificate id does not),
        #: then the one the authority's latest `transfer_certificate` handed it to. Only that CB
        #: changes it, and the authority acts on it only as that CB's
        self.certificate_issuer: dict[str, str] = {}
        self.admissions: dict[int, Admission] = {}
        self.in_scope: list[tuple[Event, Admission]] = []
        #: the authority's key revocations, for the chain to be checked against (seq, statement)
        self.revocations: list[tuple[int, RevokeKey]] = []

    def add(self, obj: object) -> bool:
        """Take the next entry, of either kind (docs/spec.md §3a.3); False if the log cannot be
        read further."""
        report, problems = self.report, self.report.problems
        entry: Event | AuthorityEntry
        try:
            if isinstance(obj, dict) and "statement" in obj:
                entry = AuthorityEntry.from_json(obj)
            else:
                entry = Event.from_json(obj)
        except CoreError as exc:
            problems.append(f"entry {report.events}: {exc}")
            return False
        if entry.seq != report.events:
            problems.append(f"entry {report.events}: got seq {entry.seq}")
            return False
        if not self.pending:
            problems.append(f"entry {entry.seq}: beyond the last anchored checkpoint")
            return False
        self.tree.append(entry.leaf_bytes())
        if isinstance(entry, AuthorityEntry):
            self._statement(entry)
        else:
            self._event(entry)
        report.events += 1
        while self.pending and self.pending[0].tree_size == report.events:
            self._close(self.pending.pop(0))
        return True

    def _event(self, event: Event) -> None:
        report, problems = self.report, self.report.problems
        self._check_owner(event)
        if event.type is EventType.ISSUE or event.type is EventType.SUPERSEDE:
            self.certificate_issuer[event.certificate_id] = sys.intern(event.issuer_id)
        self._check_admission(event)
        self._check_key_approval(event)
        self._check_statement_order(event)
        # The first checkpoint that covered the event: the issuer key is judged at its block.
        cover = self.pending[0]
        report.signatures_checked += _check_signature(
            self.client, event, cover, self.keys, problems
        )
        try:
            for leaf in apply_event(self.leaves, event):
                self.changed[leaf.certificate_id] = leaf
        except CoreError as exc:
            problems.append(str(exc))

    def _check_admission(self, event: Event) -> None:
        """An event that puts a certificate in force names the CB's admission in force, which
        no statement since has suspended or withdrawn (docs/spec.md §3, §3a): as the log has
        replayed so far, the CB's leaf is `admitted` under exactly that admission. A CB the
        authority's statements never admitted names none."""
        if event.type not in _IN_FORCE:
            return
        leaf = self.governance.issuers.get(event.issuer_id)
        problems = self.report.problems
        if event.admission_seq is None:
            if leaf is not None:
                problems.append(
                    f"entry {event.seq}: {event.type.value} of {event.issuer_id} names no "
                    f"admission, want the one in force (entry {leaf.admission_seq}, "
                    f"{leaf.status})"
                )
            return
        self.report.admissions_checked += 1
        admission = self.admissions.get(event.admission_seq)
        if self.records and admission is not None:
            self.in_scope.append((event, admission))
        if leaf is None or leaf.admission_seq != event.admission_seq:
            found = "none" if leaf is None else f"entry {leaf.admission_seq}"
            problems.append(
                f"entry {event.seq}: names admission entry {event.admission_seq} of "
                f"{event.issuer_id}, want the one in force ({found})"
            )
        elif leaf.status != "admitted":
            problems.append(
                f"entry {event.seq}: {event.type.value} by {event.issuer_id} while it was "
                f"{leaf.status} (entry {leaf.status_seq}), want admitted"
            )

    def _check_key_approval(self, event: Event) -> None:
        """An event that names an admission, or that the CB signed itself (version 2), is
        signed with a key the authority approved for the CB earlier in the log, and had not
        revoked, as the log has replayed so far, from a position at or before the event
        (docs/spec.md §3a.1, §3a.5). Events of other CBs' keys, registered before the authority
        approved keys, need none."""
        if event.admission_seq is None and getattr(event, "version", 1) != 2:
            return
        self.report.keys_checked += 1
        approval = self.governance.keys.get((event.issuer_id, event.key_id))
        signed = (
            f"entry {event.seq}: {event.type.value} by {event.issuer_id} signed with key "
            f"0x{event.key_id.hex()}"
        )
        if approval is None or approval.approved_seq >= event.seq:
            found = "none" if approval is None else f"entry {approval.approved_seq}"
            self.report.problems.append(
                f"{signed}, want a key the authority approved for it before ({found})"
            )
        elif approval.revoked_from_seq is not None and approval.revoked_from_seq <= event.seq:
            self.report.problems.append(
                f"{signed}, want a key not revoked: revoked from entry "
                f"{approval.revoked_from_seq} (approved at entry {approval.approved_seq})"
            )

    def _check_owner(self, event: Event) -> None:
        """An event changing a certificate already issued (or replacing it) is its CB's: the
        one that issued it, or the one the authority transferred it to (docs/spec.md §3a.5)."""
        if event.type is EventType.ISSUE:
            return
        changed = event.supersedes if event.type is EventType.SUPERSEDE else event.certificate_id
        if changed is None:
            return
        owner = self.certificate_issuer.get(changed)
        if owner is not None and owner != event.issuer_id:
            self.report.problems.append(
                f"entry {event.seq}: {event.type.value} of certificate {changed} by "
                f"{event.issuer_id}, want its CB {owner}"
            )

    def _check_statement_order(self, event: Event) -> None:
        """A statement the CB signed itself (version 2) carries no `seq`: the registry must
        append each once, in order of its `at` per certificate, or an old signed suspension
        could be replayed after a newer reinstatement (docs/spec.md §3.1)."""
        if event.version != ISSUER_STATEMENT:
            return
        signed = event.signing_bytes()
        previous = self.issuer_statement_at.get(event.certificate_id)
        if previous is not None and (event.at < previous[0] or signed in previous[1]):
            self.report.problems.append(
                f"entry {event.seq}: statement about certificate {event.certificate_id} dated "
                f"{event.at.isoformat()}, want one not appended before, dated no earlier than "
                f"its previous one ({previous[0].isoformat()})"
            )
        same = previous[1] if previous is not None and previous[0] == event.at else set()
        self.issuer_statement_at[event.certificate_id] = (event.at, same | {signed})

    def _statement(self, entry: AuthorityEntry) -> None:
        """An authority entry: its signature (when the authority's key is pinned), its CB's
        statements in order of time, each once, and its CB's leaf replayed (§3a.5)."""
        report, problems = self.report, self.report.problems
        if self.authority_key is not None:
            try:
                verify_statement(entry, self.authority_key)
            except CoreError as exc:
                problems.append(f"entry {entry.seq}: {exc}")
            else:
                report.authority_signatures_checked += 1
        statement = entry.statement
        previous = self.statement_at.get(statement.issuer_id)
        signed = statement.signing_bytes()
        if previous is not None and (statement.at < previous[0] or signed in previous[1]):
            problems.append(
                f"entry {entry.seq}: statement about {statement.issuer_id} dated "
                f"{statement.at.isoformat()}, want a statement not appended before, dated no "
                f"earlier than its previous one ({previous[0].isoformat()})"
            )
        same = previous[1] if previous is not None and previous[0] == statement.at else set()
        self.statement_at[statement.issuer_id] = (statement.at, same | {signed})
        if isinstance(statement, Admission):
            self.admissions[entry.seq] = statement
        elif isinstance(statement, RevokeKey):
            self.revocations.append((entry.seq, statement))
        try:
            leaf = apply_statement(self.governance, entry)
            self._on_certificate(entry)
        except CoreError as exc:
            problems.append(f"entry {entry.seq}: {exc}")
        else:
            if leaf is not None:
                self.changed_issuers[leaf.issuer_id] = leaf
        report.statements += 1

    def _on_certificate(self, entry: AuthorityEntry) -> None:
        """An authority entry about a certificate: the authority's action on it sets its leaf,
        a transfer hands it to another CB; either is stated of the certificate's own CB."""
        statement = entry.statement
        if not isinstance(statement, CertificateAction | TransferCertificate):
            return
        owner = self.certificate_issuer.get(statement.certificate_id)
        if owner != statement.issuer_id:
            self.report.problems.append(
                f"entry {entry.seq}: {statement.TYPE.value} of certificate "
                f"{statement.certificate_id} stated of {statement.issuer_id}, want its own CB "
                f"({owner or 'none issued it'})"
            )
        if isinstance(statement, CertificateAction):
            changed = apply_certificate_action(self.leaves, entry)
            self.changed[changed.certificate_id] = changed
        else:
            check_transfer(self.leaves, entry)
            self.certificate_issuer[statement.certificate_id] = sys.intern(statement.to_issuer_id)

    def _close(self, cp: ChainCheckpoint) -> None:
        problems = self.report.problems
        self.status_map.update_many(
            [(leaf.key, leaf.value) for leaf in self.changed.values()]
            + [(leaf.key, leaf.value) for leaf in self.changed_issuers.values()]
        )
        self.changed.clear()
        self.changed_issuers.clear()
        if self.tree.root_hash() != cp.log_root:
            problems.append(
                f"checkpoint {cp.index}: log root recomputed from the entries is "
                f"0x{self.tree.root_hash().hex()}, want the anchored 0x{cp.log_root.hex()}"
            )
        if self.status_map.root_hash != cp.map_root:
            problems.append(
                f"checkpoint {cp.index}: map root recomputed from the log is "
                f"0x{self.status_map.root_hash.hex()}, want the anchored 0x{cp.map_root.hex()}"
            )
        if (
            self.certificate_id is not None
            and self.at_checkpoint is not None
            and cp.index == self.at_checkpoint.index
        ):
            self.report.at = _point(self.certificate_id, cp, self.leaves.get(self.certificate_id))


def _check_revocations(
    client: AnchorClient,
    chain: list[ChainCheckpoint],
    revocations: list[tuple[int, RevokeKey]],
    report: AuditReport,
) -> None:
    """Each `revoke_key` refuses the key's events from log position `revoked_from_seq`; the
    chain must refuse them from the block of the first checkpoint holding that position (or
    earlier), as the registry's worker revokes it (docs/spec.md §11.11) — else a verifier, who
    judges keys by the chain, would still accept the events the authority revoked. One the
    latest checkpoint alone covers may be on its way (the worker revokes after anchoring)."""
    for seq, statement in revocations:
        covering = next((cp for cp in chain if cp.tree_size > statement.revoked_from_seq), None)
        if covering is None:
            continue
        key = client.issuer_key(
            issuer_id=issuer_chain_id(statement.issuer_id), key_id=statement.key_id
        )
        wanted = max(covering.block_number, key.valid_from)
        if key.registered and key.revoked_at and key.revoked_at <= wanted:
            report.revocations_checked += 1
            continue
        if covering is chain[-1]:
            continue  # the worker revokes it after this anchoring: checked next time
        found = "not revoked" if not key.revoked_at else f"revoked from block {key.revoked_at}"
        report.problems.append(
            f"entry {seq}: revoke_key of {statement.issuer_id}'s key "
            f"{hex0x(statement.key_id)} from position {statement.revoked_from_seq}: the chain "
            f"has it {found}, want it revoked from block {wanted} (checkpoint "
            f"{covering.index}) or earlier"
        )


#: concurrent record fetches of `records`: one request per certificate
_RECORD_FETCHES: Final = 8


def _check_scopes(
    http: httpx2.Client, events: list[tuple[Event, Admission]], report: AuditReport
) -> None:
    """Each event put its certificate in force under an admission: the record the registry
    serves for it must hash to the event's `record_hash` (so the registry cannot answer with
    another), and be of a kind, and cite standards, the admission covered on the day of the
    event (docs/spec.md §3a.6)."""
    ids = sorted({event.certificate_id for event, _ in events})

    def fetch(certificate_id: str) -> tuple[str, object]:
        try:
            return certificate_id, _get(http, f"/v1/certificates/{certificate_id}")
        except _Refused as exc:
            return certificate_id, exc

    with ThreadPoolExecutor(max_workers=_RECORD_FETCHES) as pool:
        served = dict(pool.map(fetch, ids))
    problems = report.problems
    for event, admission in events:
        answer = served.get(event.certificate_id)
        where = f"entry {event.seq}: {event.type.value} of {event.certificate_id}"
        record = answer.get("record") if isinstance(answer, dict) else None
        if not isinstance(record, dict):
            problems.append(f"{where}: got no record from the registry ({answer}), want it")
            continue
        try:
            record_hash = hash_record(record)
        except CoreError as exc:
            problems.append(f"{where}: the registry's record: {exc}")
            continue
        if record_hash != event.record_hash:
            problems.append(
                f"{where}: the registry's record hashes to {hex0x(record_hash)}, want "
                f"{hex0x(event.record_hash)} (the event's)"
            )
            continue
        fields = open_record(record, require=frozenset()).fields if is_v2(record) else record
        kind, standards = fields.get("kind"), fields.get("standards") or []
        if not isinstance(kind, str) or not isinstance(standards, list):
            problems.append(f"{where}: the record has no kind or no list of standards")
            continue
        try:
            refused = admission_covers(
                admission, kind=kind, standards=standards, on=event.at.date()
            )
        except CoreError as exc:
            problems.append(f"{where}: {exc}")
            continue
        report.scope_checked += 1
        if refused is not None:
            problems.append(
                f"{where}: outside the admission in force (entry {event.admission_seq}): "
                f"{refused.message} ({refused.code})"
            )


def _registry_checkpoints(http: httpx2.Client) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    start = 0
    while True:
        page = _get(http, "/v1/checkpoints", start=start, limit=1000)
        rows = page.get("checkpoints") if isinstance(page, dict) else None
        if not isinstance(rows, list) or not all(
            isinstance(r, dict) and isinstance(r.get("index"), int) and r["index"] >= start
            for r in rows
        ):
            raise _Refused(f"GET /v1/checkpoints?start={start}: got no list of checkpoints")
        for row in rows:
            found[row["index"]] = row
        if len(rows) < 1000:
            return found
        start = rows[-1]["index"] + 1


def _check_note(
    cp: ChainCheckpoint, row: dict[str, Any] | None, vkey: NoteVerifier, problems: list[str]
) -> None:
    if row is None:
        problems.append(f"checkpoint {cp.index}: on chain, but the registry does not list it")
        return
    try:
        signed = verify_checkpoint(str(row.get("note")), verifier=vkey)
    except CoreError as exc:
        problems.append(f"checkpoint {cp.index}: note: {exc}")
        return
    if (signed.tree_size, signed.root_hash, signed.map_root) != (
        cp.tree_size,
        cp.log_root,
        cp.map_root,
    ):
        problems.append(f"checkpoint {cp.index}: the signed note and the chain disagree")


def _check_consistency(
    http: httpx2.Client, older: ChainCheckpoint, newer: ChainCheckpoint, problems: list[str]
) -> None:
    what = f"checkpoints {older.index}->{newer.index}"
    if older.tree_size == newer.tree_size:
        return  # the contract refuses this; nothing to prove
    try:
        answer = _get(
            http, "/v1/log/consistency", **{"from": older.tree_size, "to": newer.tree_size}
        )
        hashes = answer.get("hashes") if isinstance(answer, dict) else None
        if not isinstance(hashes, list):
            raise _Refused(f"{what}: got no consistency proof")
        verify_consistency(
            size1=older.tree_size,
            size2=newer.tree_size,
            root1=older.log_root,
            root2=newer.log_root,
            proof=[parse_hex(h) for h in hashes],
        )
    except _Refused as exc:
        problems.append(f"{what}: {exc}")
    except (CoreError, TypeError) as exc:
        problems.append(f"{what}: {exc}")


def _check_signature(
    client: AnchorClient,
    event: Event,
    cover: ChainCheckpoint,
    keys: dict[tuple[str, bytes], Any],
    problems: list[str],
) -> int:
    cache_key = (event.issuer_id, event.key_id)
    if cache_key not in keys:
        keys[cache_key] = client.issuer_key(
            issuer_id=issuer_chain_id(event.issuer_id), key_id=event.key_id
        )
    key = keys[cache_key]
    if not key.registered:
        problems.append(f"event {event.seq}: key 0x{event.key_id.hex()} is not on chain")
        return 0
    if not key.in_force_at(cover.block_number):
        problems.append(
            f"event {event.seq}: key 0x{event.key_id.hex()} not in force at block "
            f"{cover.block_number} (checkpoint {cover.index})"
        )
    try:
        verify_event_signature(event, key.public_key)
    except CoreError as exc:
        problems.append(f"event {event.seq}: {exc}")
    return 1


def _registry_line(
    http: httpx2.Client, vkey: NoteVerifier, line: Line, problems: list[str]
) -> Line:
    """The registry's key and contract as it publishes them; the pinned contract's `line`,
    joined to the registry's contract when that one succeeds it."""
    try:
        identity = _get(http, "/v1/registry")
        if not isinstance(identity, dict):
            raise _Refused("GET /v1/registry: got no object")
        if identity.get("vkey") != vkey.vkey:
            problems.append(
                f"registry key: got {identity.get('vkey')}, want the pinned {vkey.vkey}"
            )
        contract = identity.get("contract")
        joined = (
            line_through(line, contract)
            if isinstance(contract, str) and is_hex_address(contract)
            else None
        )
        if joined is None:
            problems.append(
                f"registry anchors on {contract}, want the pinned {line.members[0].address} "
                "or a successor of it"
            )
            return line
        return joined
    except _Refused as exc:
        problems.append(str(exc))
        return line


def _check_line(line: Line, problems: list[str]) -> None:
    """Each successor's start is its predecessor's checkpoint at that index, as anchored there
    (the successor's constructor read it; checked again, trusting nobody)."""
    for member, predecessor in itertools.pairwise(line.members):
        assert member.start is not None
        start = member.client.checkpoint(member.start)
        anchored = predecessor.client.checkpoint(member.start)
        if start is None or start != anchored:
            problems.append(
                f"contract {member.address} starts from checkpoint {member.start} of "
                f"{predecessor.address}, but that checkpoint differs there"
            )


def _checkpoint_at(
    chain: list[ChainCheckpoint], *, at_block: int | None, at_time: dt.datetime | None
) -> ChainCheckpoint | None:
    if at_block is None and at_time is None:
        return chain[-1] if chain else None
    found = None
    for cp in chain:
        if at_block is not None and cp.block_number > at_block:
            break
        if at_time is not None and cp.timestamp > at_time.timestamp():
            break
        found = cp
    return found


def _point(certificate_id: str, cp: ChainCheckpoint | None, leaf: StatusLeaf | None) -> PointInTime:
    return PointInTime(
        certificate_id=certificate_id,
        checkpoint_index=None if cp is None else cp.index,
        block_number=None if cp is None else cp.block_number,
        timestamp=None if cp is None else cp.timestamp,
        status="unknown" if leaf is None else leaf.status,
        event_seq=None if leaf is None else leaf.event_seq,
    )
