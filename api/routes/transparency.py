"""Public routes for verifiers and auditors: verification, the registry's identity, checkpoints,
consistency proofs and the log's entries."""

import json
from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from api.deps import StackDep
from api.problems import ProblemError, responses
from api.schemas import (
    CheckpointOut,
    CheckpointPage,
    ConsistencyOut,
    EntriesOut,
    RegistryOut,
    VerdictOut,
    VerifyRequest,
)
from api.stack import Stack
from registry.core.canonical import canonical_hash
from registry.core.encoding import hex0x
from registry.core.log import LogTree
from registry.core.verify import CHECK_NAMES, Check, CheckStatus, Verdict, VerdictStatus
from registry.db import models
from registry.db.repositories import CheckpointRepository, LogRepository
from registry.db.stores import SqlTileStore

router = APIRouter(tags=["verification and audit"])

MAX_ENTRIES = 1000


def verdict_out(verdict: Verdict) -> VerdictOut:
    return VerdictOut.model_validate(verdict.to_json())


@router.post(
    "/v1/verify",
    summary="Verify a proof bundle, or a certificate record",
    responses=responses(413, 415, 422),
)
def verify(body: VerifyRequest, stack: StackDep) -> VerdictOut:
    """Always 200 for a well-formed request: the verdict (docs/spec.md §9) with each named
    check. VALID only when every check passed against the chain and the status is the one at
    the chain's latest checkpoint: an older bundle is refreshed from this registry's own fresh
    status proof (the verdict names it in `refreshed_from`); without the chain, UNCONFIRMED.

    A `bundle` is verified against this registry's pinned key and the chain. A `record` (e.g. an
    uploaded certificate file) is compared with the registered record of its id, then that
    certificate's current bundle is verified."""
    if (body.bundle is None) == (body.record is None):
        raise ProblemError("validation", 422, "body: want exactly one of bundle and record")
    if body.bundle is not None:
        return verdict_out(stack.verifier.verify(body.bundle))
    record = body.record
    assert record is not None
    certificate_id = record.get("id")
    if not isinstance(certificate_id, str) or len(certificate_id) != 66:
        return verdict_out(_record_failed("record.id: got no certificate id, want 0x + 64 hex"))
    bundle = stack.assembler.bundle(certificate_id.lower())
    verdict = stack.verifier.verify(bundle.model_dump(mode="json"))
    try:
        submitted = canonical_hash(record)
    except ValueError as exc:
        return verdict_out(_record_failed(f"record: {exc}"))
    if bundle.record is None or canonical_hash(bundle.record) != submitted:
        return verdict_out(
            _record_failed(
                "the record differs from the one registered under its id"
                if bundle.record is not None
                else "no certificate is registered under this id",
                code="record_not_registered" if bundle.record is None else "record_differs",
                certificate_id=certificate_id,
            )
        )
    return verdict_out(verdict)


def _record_failed(
    message: str, *, code: str = "malformed_record", certificate_id: str | None = None
) -> Verdict:
    checks = [
        Check("record_integrity", CheckStatus.FAILED, code, message),
        *(
            Check(name, CheckStatus.SKIPPED, "record_not_matched", "the record did not match")
            for name in CHECK_NAMES[1:]
        ),
    ]
    return Verdict(
        status=VerdictStatus.INVALID, checks=tuple(checks), certificate_id=certificate_id
    )


@router.get("/v1/registry", summary="Who this registry is: pin these once")
def registry(stack: StackDep) -> RegistryOut:
    with stack.sessions() as session:
        size = LogRepository(session).tree_size()
    return RegistryOut(
        origin=stack.settings.origin,
        vkey=stack.trust.registry_key.vkey,
        chain_id=stack.anchor_info.chain_id,
        contract=stack.anchor_info.contract,
        max_merge_delay_s=stack.settings.max_merge_delay_s,
        checkpoint_interval_s=stack.settings.checkpoint_interval_s,
        log_size=size,
    )


def checkpoint_out(row: models.Checkpoint) -> CheckpointOut:
    return CheckpointOut(
        index=row.index,
        tree_size=row.tree_size,
        log_root=hex0x(row.log_root),
        map_root=hex0x(row.map_root),
        note=row.note,
        block_number=row.block_number,
        block_timestamp=row.block_timestamp,
        tx_hash=row.tx_hash,
    )


@router.get(
    "/v1/checkpoints", summary="Anchored checkpoints, oldest first", responses=responses(422)
)
def checkpoints(
    stack: StackDep,
    start: Annotated[int, Query(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CheckpointPage:
    with stack.sessions() as session:
        rows = CheckpointRepository(session).anchored(start=start, limit=limit)
        return CheckpointPage(checkpoints=[checkpoint_out(r) for r in rows])


@router.get(
    "/v1/checkpoints/{index}", summary="One anchored checkpoint", responses=responses(404, 422)
)
def checkpoint(stack: StackDep, index: Annotated[int, Path(ge=0, le=2**53)]) -> CheckpointOut:
    with stack.sessions() as session:
        row = CheckpointRepository(session).get(index)
        if row is None or row.state != "anchored":
            raise ProblemError("not-found", 404, f"checkpoint {index}: got none anchored")
        return checkpoint_out(row)


def _anchored_size(stack: Stack) -> int:
    with stack.sessions() as session:
        latest = CheckpointRepository(session).latest_anchored()
    return 0 if latest is None else latest.tree_size


@router.get(
    "/v1/log/consistency",
    summary="RFC 9162 consistency proof between two anchored sizes",
    responses=responses(400, 422),
)
def consistency(
    stack: StackDep,
    from_: Annotated[int, Query(alias="from", ge=1, le=2**53)],
    to: Annotated[int, Query(ge=1, le=2**53)],
) -> ConsistencyOut:
    anchored = _anchored_size(stack)
    if not from_ <= to <= anchored:
        raise ProblemError(
            "invalid-request",
            400,
            f"sizes: got from={from_} to={to}, want 1 <= from <= to <= {anchored} (anchored)",
        )
    with stack.sessions() as session:
        tree = LogTree(SqlTileStore(session), tree_size=to)
        hashes = tree.consistency_proof(size1=from_, size2=to)
    return ConsistencyOut(size1=from_, size2=to, hashes=[hex0x(h) for h in hashes])


@router.get(
    "/v1/log/entries",
    summary="Log entries [start, end) up to the anchored size",
    responses=responses(400, 422),
)
def entries(
    stack: StackDep,
    start: Annotated[int, Query(ge=0, le=2**53)],
    end: Annotated[int, Query(ge=1, le=2**53)],
) -> EntriesOut:
    """At most 1,000 entries a page. The canonical JSON of each entry is the log leaf."""
    anchored = _anchored_size(stack)
    if not start < end <= anchored or end - start > MAX_ENTRIES:
        raise ProblemError(
            "invalid-request",
            400,
            f"range: got [{start}, {end}), want start < end <= {anchored} (anchored) "
            f"and at most {MAX_ENTRIES} entries",
        )
    with stack.sessions() as session:
        raw = session.execute(
            select(models.Event.entry)
            .where(models.Event.seq >= start, models.Event.seq < end)
            .order_by(models.Event.seq)
        ).scalars()
        events = [json.loads(entry) for entry in raw]
    return EntriesOut(start=start, end=end, entries=events)
