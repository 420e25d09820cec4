"""How events change certificates' statuses: the status map as a function of the log prefix.

Normative (docs/spec.md §5.7): replaying the log from the start with `apply_event` and setting
each changed certificate's status-map leaf gives the map root of every checkpoint. An auditor
recomputes it from the log alone; the registry uses the same function to build the map.
Authority entries (docs/spec.md §3a) set CB leaves by `governance.apply_statement`, and
certificate leaves when the authority acts on a certificate (`apply_certificate_action`);
`apply_entry` and `replay` take both kinds of entry.
"""

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Final

from registry.core.errors import LifecycleError
from registry.core.events import Event, EventType
from registry.core.governance import (
    CERTIFICATE_ALLOWED_FROM,
    AuthorityEntry,
    CertificateAction,
    GovernanceState,
    IssuerLeaf,
    TransferCertificate,
    apply_statement,
    parse_log_entry,
)
from registry.core.statusmap import map_key, status_leaf_value

__all__ = [
    "ALLOWED_FROM",
    "NEXT_STATUS",
    "SUPERSEDABLE",
    "TRANSFERABLE",
    "LifecycleError",
    "LogState",
    "StatusLeaf",
    "apply_certificate_action",
    "apply_entry",
    "apply_event",
    "check_transfer",
    "replay",
]

# The status an event gives the certificate it names (`certificate_id`).
NEXT_STATUS: Final = {
    EventType.ISSUE: "valid",
    EventType.SUSPEND: "suspended",
    EventType.REINSTATE: "valid",
    EventType.WITHDRAW: "withdrawn",
    EventType.SUPERSEDE: "valid",  # the new certificate; the old one becomes "superseded"
}


@dataclass(frozen=True, slots=True)
class StatusLeaf:
    """A status-map leaf's preimage (docs/spec.md §5.1; `status_proof.leaf`, §8)."""

    certificate_id: str
    status: str
    record_hash: bytes
    event_seq: int

    @property
    def key(self) -> bytes:
        return map_key(self.certificate_id)

    @property
    def value(self) -> bytes:
        return status_leaf_value(
            certificate_id=self.certificate_id,
            status=self.status,
            record_hash=self.record_hash,
            event_seq=self.event_seq,
        )


# Statuses a certificate must be in for an event to apply to it (None: must not exist yet).
ALLOWED_FROM: Final = {
    EventType.ISSUE: None,
    EventType.SUSPEND: frozenset({"valid"}),
    EventType.REINSTATE: frozenset({"suspended"}),
    EventType.WITHDRAW: frozenset({"valid", "suspended"}),
    EventType.SUPERSEDE: None,  # for the new certificate; the old one: SUPERSEDABLE
}
SUPERSEDABLE: Final = frozenset({"valid", "suspended"})


def _check_from(
    leaves: MutableMapping[str, StatusLeaf], event: Event, certificate_id: str, allowed: object
) -> StatusLeaf | None:
    current = leaves.get(certificate_id)
    if allowed is None:
        if current is not None:
            raise LifecycleError(
                f"event {event.seq}: got {event.type.value} of {certificate_id}, "
                f"want a certificate not in the log yet (it is {current.status})"
            )
        return None
    assert isinstance(allowed, frozenset)
    if current is None or current.status not in allowed:
        got = "an unknown certificate" if current is None else f"a {current.status} certificate"
        raise LifecycleError(
            f"event {event.seq}: got {event.type.value} of {got} {certificate_id}, "
            f"want one that is {' or '.join(sorted(allowed))}"
        )
    return current


def apply_event(leaves: MutableMapping[str, StatusLeaf], event: Event) -> list[StatusLeaf]:
    """Set the leaves `event` changes in `leaves` (keyed by certificate id); return them.

    Raises `LifecycleError` for an event the log before it does not allow (see ALLOWED_FROM),
    or whose record hash is not the certificate's. `supersede` changes two leaves: the new
    certificate (`certificate_id`, record hash from the event) becomes valid, the old one
    (`supersedes`) keeps its record hash and becomes superseded; both point at this event.
    """
    current = _check_from(leaves, event, event.certificate_id, ALLOWED_FROM[event.type])
    if current is not None and current.record_hash != event.record_hash:
        raise LifecycleError(
            f"event {event.seq}: got record hash 0x{event.record_hash.hex()}, "
            f"want the certificate's 0x{current.record_hash.hex()}"
        )
    changed = [
        StatusLeaf(
            certificate_id=event.certificate_id,
            status=NEXT_STATUS[event.type],
            record_hash=event.record_hash,
            event_seq=event.seq,
        )
    ]
    if event.type is EventType.SUPERSEDE:
        assert event.supersedes is not None  # Event enforces it on supersede events
        old = _check_from(leaves, event, event.supersedes, SUPERSEDABLE)
        assert old is not None
        changed.append(
            StatusLeaf(
                certificate_id=old.certificate_id,
                status="superseded",
                record_hash=old.record_hash,
                event_seq=event.seq,
            )
        )
    for leaf in changed:
        leaves[leaf.certificate_id] = leaf
    return changed


def _named_leaf(
    leaves: Mapping[str, StatusLeaf], entry: AuthorityEntry, allowed: frozenset[str]
) -> StatusLeaf:
    """The leaf of the certificate an authority entry about one names: issued, in one of the
    `allowed` statuses, with the entry's record hash (else `LifecycleError`)."""
    statement = entry.statement
    assert isinstance(statement, CertificateAction | TransferCertificate)
    current = leaves.get(statement.certificate_id)
    if current is None or current.status not in allowed:
        got = "an unknown certificate" if current is None else f"a {current.status} certificate"
        raise LifecycleError(
            f"authority entry {entry.seq}: got {statement.TYPE.value} of {got} "
            f"{statement.certificate_id}, want one that is {' or '.join(sorted(allowed))}"
        )
    if current.record_hash != statement.record_hash:
        raise LifecycleError(
            f"authority entry {entry.seq}: got record hash 0x{statement.record_hash.hex()}, "
            f"want the certificate's 0x{current.record_hash.hex()}"
        )
    return current


def apply_certificate_action(
    leaves: MutableMapping[str, StatusLeaf], entry: AuthorityEntry
) -> StatusLeaf:
    """Set the leaf of the certificate the authority's `suspend_certificate` or
    `withdraw_certificate` names (docs/spec.md §3a.5): it must be issued, with that record hash,
    and in a status the action applies to; the leaf then points at the authority's entry."""
    statement = entry.statement
    assert isinstance(statement, CertificateAction)
    current = _named_leaf(leaves, entry, CERTIFICATE_ALLOWED_FROM[statement.TYPE])
    leaf = StatusLeaf(
        certificate_id=statement.certificate_id,
        status=statement.status,
        record_hash=current.record_hash,
        event_seq=entry.seq,
    )
    leaves[leaf.certificate_id] = leaf
    return leaf


#: the certificate statuses a transfer applies to: a certificate still in force or suspended
TRANSFERABLE: Final = frozenset({"valid", "suspended"})


def check_transfer(leaves: Mapping[str, StatusLeaf], entry: AuthorityEntry) -> None:
    """A `transfer_certificate` names an issued certificate, with its record hash, that is
    valid or suspended (docs/spec.md §3a.5); it changes no leaf: the events after it are the
    receiving CB's."""
    _named_leaf(leaves, entry, TRANSFERABLE)


@dataclass(frozen=True)
class LogState:
    """What a log prefix has set: certificate leaves, and CB leaves and key approvals."""

    certificates: dict[str, StatusLeaf] = field(default_factory=dict)
    governance: GovernanceState = field(default_factory=GovernanceState)

    def map_items(self) -> list[tuple[bytes, bytes]]:
        """Every (key, value) of the status map: certificates' and CBs' leaves."""
        leaves: list[StatusLeaf | IssuerLeaf] = [*self.certificates.values()]
        leaves.extend(self.governance.issuers.values())
        return [(leaf.key, leaf.value) for leaf in leaves]


def apply_entry(state: LogState, entry: Event | AuthorityEntry) -> list[StatusLeaf | IssuerLeaf]:
    """Apply one log entry of either kind; return the leaves it sets (none for a key's)."""
    if isinstance(entry, Event):
        return [*apply_event(state.certificates, entry)]
    leaf = apply_statement(state.governance, entry)  # the CB's standing, for every statement
    if isinstance(entry.statement, CertificateAction):
        return [apply_certificate_action(state.certificates, entry)]
    if isinstance(entry.statement, TransferCertificate):
        check_transfer(state.certificates, entry)
    return [] if leaf is None else [leaf]


def replay(entries: Iterable[bytes]) -> LogState:
    """The state of a log from its entries alone, in order from entry 0.

    Raises `EncodingError` for an entry that is neither kind, and `LifecycleError` for one
    whose `seq` is not its index or that the entries before it do not allow. Authority
    signatures are not checked here (`governance.verify_statement`).
    """
    state = LogState()
    for index, leaf in enumerate(entries):
        entry = parse_log_entry(leaf)
        if entry.seq != index:
            raise LifecycleError(f"log entry {index}: got seq {entry.seq}, want {index}")
        apply_entry(state, entry)
    return state
