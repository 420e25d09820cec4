"""Public routes for verifiers and auditors: verification, the registry's identity, checkpoints,
consistency proofs and the log's entries."""

import base64
import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from api.deps import ChainBudget, ChainBudgetDep, StackDep
from api.problems import ProblemError, responses
from api.routes.links import link
from api.schemas import (
    CheckpointOut,
    CheckpointPage,
    ConsistencyOut,
    EntriesOut,
    RegistryOut,
    SuccessionOut,
    VerdictOut,
    VerifyRequest,
)
from api.stack import Stack
from registry.core.disclosure import hash_record, is_v2, open_record
from registry.core.encoding import hex0x
from registry.core.verify import CHECK_NAMES, Check, CheckStatus, Verdict, VerdictStatus
from registry.transparency import AnchoredCheckpoint
from verifier.chain import WouldWaitError, without_waiting

router = APIRouter(tags=["verification and audit"])

# Hex digits of either case: the id is looked up lowercased.
_CERTIFICATE_ID = re.compile(r"0x[0-9a-fA-F]{64}")


def _log_links(size_expression: str) -> dict[str, Any]:
    """From a response naming an anchored size to the log's entries and a consistency proof."""
    size = {"start": 0, "end": size_expression}
    return {
        "GetEntries": link("/v1/log/entries", "get", "the log up to that size", parameters=size),
        "GetConsistency": link(
            "/v1/log/consistency",
            "get",
            "that size is consistent with the first",
            parameters={"from": 1, "to": size_expression},
        ),
    }


def verdict_out(verdict: Verdict) -> VerdictOut:
    return VerdictOut.model_validate(verdict.to_json())


@router.post(
    "/v1/verify",
    summary="Verify a proof bundle, or a certificate record",
    responses=responses(413, 415, 422, 429),
)
async def verify(body: VerifyRequest, stack: StackDep, budget: ChainBudgetDep) -> VerdictOut:
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
        # Most verifications need only chain facts the verifier has cached: those run here,
        # on the event loop, without a hand-off to a request thread and back (a third of a
        # verification's cost under load, docs/benchmarks.md). One that would read the chain
        # or fetch a fresh status starts again in a thread.
        try:
            with without_waiting():
                return verdict_out(stack.verifier.verify(body.bundle))
        except WouldWaitError:
            pass
        return await run_in_threadpool(_verify_bundle, stack, budget, body.bundle)
    return await run_in_threadpool(_verify_record, stack, budget, body.record)


def _verify_bundle(stack: Stack, budget: ChainBudget, bundle: dict[str, Any]) -> VerdictOut:
    with budget.spending():
        return verdict_out(stack.verifier.verify(bundle))


def _verify_record(stack: Stack, budget: ChainBudget, record: dict[str, Any] | None) -> VerdictOut:
    assert record is not None
    try:
        fields = open_record(record).fields if is_v2(record) else record
    except ValueError as exc:
        return verdict_out(_record_failed(f"record: {exc}"))
    certificate_id = fields.get("id")
    if not isinstance(certificate_id, str) or _CERTIFICATE_ID.fullmatch(certificate_id) is None:
        # Checked before the id reaches the database: any 66 characters used to, NUL and lone
        # surrogates included (a 500).
        return verdict_out(_record_failed("record.id: got no certificate id, want 0x + 64 hex"))
    bundle = stack.assembler.bundle(certificate_id.lower())
    try:
        submitted = hash_record(record)
    except ValueError as exc:
        return verdict_out(_record_failed(f"record: {exc}"))
    if bundle.record is None or hash_record(bundle.record) != submitted:
        return verdict_out(
            _record_failed(
                "the record differs from the one registered under its id"
                if bundle.record is not None
                else "no certificate is registered under this id",
                code="record_not_registered" if bundle.record is None else "record_differs",
                certificate_id=certificate_id,
            )
        )
    # Only a record that is the registered one is worth the chain's reads.
    return _verify_bundle(stack, budget, bundle.model_dump(mode="json"))


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


@router.get(
    "/v1/registry",
    summary="Who this registry is: pin these once",
    responses={
        200: {
            "links": {
                "ListCheckpoints": link("/v1/checkpoints", "get", "its anchored checkpoints"),
                **_log_links("$response.body#/log_size"),
            }
        }
    },
)
def registry(stack: StackDep) -> RegistryOut:
    size = stack.transparency.log_size()
    return RegistryOut(
        origin=stack.settings.origin,
        vkey=stack.trust.registry_key.vkey,
        chain_id=stack.anchor_info.chain_id,
        contract=stack.anchor_info.contract,
        succession=None
        if (line := stack.succession()) is None
        else [SuccessionOut.model_validate(member) for member in line],
        authority_key=None
        if (key := stack.service.governance.authority_key) is None
        else base64.b64encode(key).decode("ascii"),
        max_merge_delay_s=stack.settings.max_merge_delay_s,
        checkpoint_interval_s=stack.settings.checkpoint_interval_s,
        log_size=size,
    )


def checkpoint_out(row: AnchoredCheckpoint) -> CheckpointOut:
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
    "/v1/checkpoints",
    summary="Anchored checkpoints, oldest first",
    responses={
        200: {
            "links": {
                "GetCheckpoint": link(
                    "/v1/checkpoints/{index}",
                    "get",
                    "the first checkpoint of the page",
                    parameters={"index": "$response.body#/checkpoints/0/index"},
                ),
                **_log_links("$response.body#/checkpoints/0/tree_size"),
            }
        },
        **responses(422),
    },
)
def checkpoints(
    stack: StackDep,
    start: Annotated[int, Query(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CheckpointPage:
    rows = stack.transparency.checkpoints(start=start, limit=limit)
    return CheckpointPage(checkpoints=[checkpoint_out(r) for r in rows])


@router.get(
    "/v1/checkpoints/{index}",
    summary="One anchored checkpoint",
    responses={200: {"links": _log_links("$response.body#/tree_size")}, **responses(404, 422)},
)
def checkpoint(stack: StackDep, index: Annotated[int, Path(ge=0, le=2**53)]) -> CheckpointOut:
    row = stack.transparency.checkpoint(index)
    if row is None:
        raise ProblemError("not-found", 404, f"checkpoint {index}: got none anchored")
    return checkpoint_out(row)


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
    # Sizes beyond the anchored one raise InvalidRequestError: a 400 invalid-request problem.
    hashes = stack.transparency.consistency_proof(size1=from_, size2=to)
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
    """At most 1,000 entries a page (`MAX_ENTRIES`). The canonical JSON of each entry is the log
    leaf."""
    events = stack.transparency.entries(start=start, end=end)
    return EntriesOut(start=start, end=end, entries=events)
