"""The auditor's check that certificate events name the CB's admission in force
(verifier/audit.py; docs/spec.md §3, §3a): every case it must report, and the one it must not."""

import datetime as dt
from typing import Any, cast

import pytest

from registry.core.events import Event, EventType
from registry.core.governance import IssuerLeaf
from registry.core.hashing import sha256
from verifier.audit import AuditReport, _Replay

CB = "vn-cb-quatest3"


def _replay(leaf: IssuerLeaf | None) -> _Replay:
    replay = _Replay(
        client=cast(Any, None),
        chain=[],
        report=AuditReport(),
        certificate_id=None,
        at_checkpoint=None,
    )
    if leaf is not None:
        replay.governance.issuers[CB] = leaf
    return replay


def _leaf(status: str = "admitted", admission_seq: int = 3) -> IssuerLeaf:
    return IssuerLeaf(
        issuer_id=CB,
        status=status,
        admission_seq=admission_seq,
        admission_hash=sha256(b"admission"),
        status_seq=admission_seq if status == "admitted" else admission_seq + 2,
    )


def _event(kind: EventType = EventType.ISSUE, admission_seq: int | None = 3) -> Event:
    return Event(
        seq=10,
        type=kind,
        certificate_id="0x" + "ab" * 32,
        record_hash=sha256(b"record"),
        issuer_id=CB,
        key_id=sha256(b"key"),
        at=dt.datetime(2026, 12, 7, tzinfo=dt.UTC),
        reason=None if kind is EventType.ISSUE else "x",
        admission_seq=admission_seq,
    )


@pytest.mark.parametrize(
    ("leaf", "event", "finding"),
    [
        (_leaf(), _event(), None),
        (None, _event(admission_seq=None), None),  # a CB from before the statements
        (_leaf(), _event(EventType.SUSPEND, admission_seq=None), None),  # not in force
        (_leaf(), _event(admission_seq=None), "names no admission"),
        (None, _event(), "want the one in force (none)"),
        (_leaf(admission_seq=5), _event(), "want the one in force (entry 5)"),
        (_leaf("suspended"), _event(), "while it was suspended"),
        (_leaf("withdrawn"), _event(EventType.REINSTATE), "while it was withdrawn"),
    ],
)
def test_admission_in_force(leaf: IssuerLeaf | None, event: Event, finding: str | None) -> None:
    replay = _replay(leaf)
    replay._check_admission(event)
    problems = replay.report.problems
    if finding is None:
        assert problems == []
    else:
        assert len(problems) == 1 and finding in problems[0], problems
