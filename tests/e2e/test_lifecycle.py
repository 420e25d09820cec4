"""A certificate's whole life over HTTP against the running server, verified by the `certreg
verify` CLI (with the trust store it pinned and the chain) and by `POST /v1/verify`: VALID,
WITHDRAWN (and the old bundle WITHDRAWN when refreshed, STALE when not, never VALID), SUSPENDED,
EXPIRED, SUPERSEDED, and UNKNOWN for an id that was never issued."""

import datetime as dt
import secrets
from typing import Any

import pytest

from tests.e2e.harness import RunningRegistry, eventually, submission

pytestmark = pytest.mark.e2e

CHECKS = [
    "record_integrity",
    "issuer_signature",
    "issuer_key_registered",
    "issuer_accredited",
    "log_inclusion",
    "checkpoint_anchored",
    "certificate_status",
    "validity_period",
]


def number(tag: str) -> str:
    return f"E2E-{tag}-{secrets.token_hex(3)}"


def codes(verdict: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """check name -> (status, code)"""
    assert [c["name"] for c in verdict["checks"]] == CHECKS
    return {c["name"]: (c["status"], c["code"]) for c in verdict["checks"]}


def test_issue_anchor_verify_then_withdraw(registry: RunningRegistry) -> None:
    created = registry.issue(submission(number("VALID")))
    cid = created["id"]
    assert created["status"] == "valid"

    first = registry.wait_anchored(cid, seq=created["last_event_seq"])
    assert first["record"] == created["record"]
    assert first["event"]["type"] == "issue"
    # The anchor names the contract of our own configuration.
    assert first["anchor"]["contract"] == registry.contract
    assert registry.verify(first)["status"] == "VALID"
    (valid,) = registry.verify_cli([(first, [])])
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert valid.json()["status"] == "VALID"
    checks = codes(valid.json())
    # The demo issuer was admitted by the operator, not by the authority's statements.
    assert checks.pop("issuer_accredited") == ("skipped", "before_governance")
    assert {s for s, _ in checks.values()} == {"passed"}

    withdrawn = registry.change(cid, "withdraw", "fraud")
    assert withdrawn["status"] == "withdrawn"
    second = registry.wait_anchored(cid, seq=withdrawn["last_event_seq"])
    assert second["event"]["type"] == "withdraw"
    assert second["checkpoint"]["index"] > first["checkpoint"]["index"]

    # The CLI with the trust store (pinned against our own key) and the chain only. The
    # processes start in parallel: most of their time is imports.
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    refreshed, stale, offline, no_chain, new = registry.verify_cli(
        [
            (first, []),  # an older bundle: refreshed from the pinned registry's URL
            (first, ["--registry", dead]),  # the refresh source is down
            (first, ["--offline"]),
            (first, ["--rpc", dead]),  # the chain is down
            (second, []),
        ]
    )
    # A withdrawn certificate's old bundle is never VALID: WITHDRAWN when a fresh status can be
    # fetched (it rests on the issuer's signed withdrawal), STALE when it cannot.
    assert refreshed.returncode == 1, refreshed.stdout + refreshed.stderr
    verdict = refreshed.json()
    assert verdict["status"] == "WITHDRAWN"
    assert verdict["certificate_id"] == cid
    assert verdict["bundle_checkpoint_index"] == first["checkpoint"]["index"]
    assert verdict["checkpoint_index"] == second["checkpoint"]["index"]
    assert verdict["refreshed_from"] == registry.url
    checks = codes(verdict)
    assert checks.pop("issuer_accredited") == ("skipped", "before_governance")
    assert {status for status, _ in checks.values()} == {"passed"}, checks
    assert checks["certificate_status"] == ("passed", "withdrawn")
    assert stale.returncode == 3, stale.stdout + stale.stderr
    assert stale.json()["status"] == "STALE"
    assert codes(stale.json())["certificate_status"] == ("error", "stale")
    assert codes(stale.json())["checkpoint_anchored"] == ("passed", "anchored_older")
    # No chain, no VALID.
    for result in (offline, no_chain):
        assert result.returncode == 3, result.stdout + result.stderr
        assert result.json()["status"] == "UNCONFIRMED"
    assert codes(offline.json())["checkpoint_anchored"] == ("skipped", "no_chain_access")
    assert codes(no_chain.json())["checkpoint_anchored"] == ("error", "chain_unavailable")

    assert new.returncode == 1
    assert new.json()["status"] == "WITHDRAWN"
    assert codes(new.json())["certificate_status"] == ("passed", "withdrawn")
    assert codes(new.json())["checkpoint_anchored"] == ("passed", "anchored_latest")

    # The same over HTTP: the registry refreshes an old bundle from its own fresh proof.
    assert registry.verify(second)["status"] == "WITHDRAWN"
    eventually(lambda: registry.verify(first)["status"] == "WITHDRAWN")
    assert registry.verify(first)["refreshed_from"] == "this registry"
    # Withdrawal is final.
    response = registry.http.post(
        f"/v1/certificates/{cid}/reinstate", json={"reason": "other"}, headers=registry.auth
    )
    assert response.status_code == 409


def test_suspended_then_reinstated(registry: RunningRegistry) -> None:
    created = registry.issue(submission(number("SUSP"), template=4))
    cid = created["id"]
    suspended = registry.change(cid, "suspend", "surveillance-nonconformity")
    bundle = registry.wait_anchored(cid, seq=suspended["last_event_seq"])
    assert bundle["status_proof"]["leaf"]["status"] == "suspended"
    verdict = registry.verify(bundle)
    assert verdict["status"] == "SUSPENDED"
    assert codes(verdict)["certificate_status"] == ("passed", "suspended")

    reinstated = registry.change(cid, "reinstate", "corrective-action-completed")
    bundle = registry.wait_anchored(cid, seq=reinstated["last_event_seq"])
    assert bundle["event"]["type"] == "reinstate"
    assert registry.verify(bundle)["status"] == "VALID"


def test_expired_and_not_yet_valid(registry: RunningRegistry) -> None:
    today = dt.datetime.now(dt.UTC).date()
    expired = registry.issue(
        submission(
            number("EXP"),
            template=2,
            valid_from=today - dt.timedelta(days=400),
            valid_until=today - dt.timedelta(days=35),
        )
    )
    future = registry.issue(
        submission(number("FUT"), template=5, valid_from=today + dt.timedelta(days=60))
    )
    bundle = registry.wait_anchored(expired["id"], seq=expired["last_event_seq"])
    verdict = registry.verify(bundle)
    assert verdict["status"] == "EXPIRED"
    checks = codes(verdict)
    assert checks["validity_period"] == ("passed", "expired")
    # Expiry is derived from the dates: the status leaf still says valid.
    assert checks["certificate_status"] == ("passed", "valid")

    bundle = registry.wait_anchored(future["id"], seq=future["last_event_seq"])
    verdict = registry.verify(bundle)
    assert verdict["status"] == "VALID"
    assert codes(verdict)["validity_period"] == ("passed", "not_yet_valid")


def test_superseded(registry: RunningRegistry) -> None:
    old = registry.issue(submission(number("OLD"), template=1))
    response = registry.http.post(
        f"/v1/certificates/{old['id']}/supersede",
        json={"certificate": submission(number("NEW"), template=1), "reason": "renewal"},
        headers=registry.auth,
    )
    assert response.status_code == 201, response.text
    new = response.json()
    assert new["supersedes"] == old["id"]

    old_bundle = registry.wait_anchored(old["id"], seq=new["last_event_seq"])
    assert old_bundle["event"]["supersedes"] == old["id"]
    assert old_bundle["status_proof"]["leaf"]["status"] == "superseded"
    verdict = registry.verify(old_bundle)
    assert verdict["status"] == "SUPERSEDED"
    assert codes(verdict)["certificate_status"] == ("passed", "superseded")

    new_bundle = registry.wait_anchored(new["id"], seq=new["last_event_seq"])
    assert registry.verify(new_bundle)["status"] == "VALID"
    got = registry.http.get(f"/v1/certificates/{old['id']}").json()
    assert got["status"] == "superseded"
    assert got["superseded_by"] == new["id"]


def test_unknown_id_gets_a_non_membership_proof(registry: RunningRegistry) -> None:
    # Something is anchored, so the status map has a root to prove the absence against.
    created = registry.issue(submission(number("ANY"), template=3))
    registry.wait_anchored(created["id"], seq=created["last_event_seq"])

    unknown = "0x" + secrets.token_hex(32)
    assert registry.http.get(f"/v1/certificates/{unknown}").status_code == 404
    bundle = registry.proof(unknown)
    assert bundle["status"] == "UNKNOWN"
    assert bundle["record"] is None and bundle["event"] is None
    assert bundle["status_proof"]["leaf"] is None
    assert bundle["checkpoint"] is not None and bundle["anchor"] is not None

    verdict = registry.verify(bundle)
    assert verdict["status"] == "UNKNOWN"
    checks = codes(verdict)
    assert checks["certificate_status"] == ("passed", "not_issued")
    assert checks["checkpoint_anchored"][0] == "passed"
    assert checks["record_integrity"] == ("skipped", "no_record")
    # The absence proof is for this id only: moved to another id it fails.
    moved = {**bundle, "certificate_id": "0x" + secrets.token_hex(32)}
    assert registry.verify(moved)["status"] == "INVALID"
