"""`certreg audit` against a running registry: an honest one passes (and answers how a
certificate stood at a past block); one that rewrites an anchored event is caught.

The malicious registry is simulated by writing to its database directly, as its operator
could: it turns a certificate's `withdraw` event back into a `suspend` and re-signs it with the
issuer's own key (which the registry holds), so every signature still verifies and only the
anchored roots can tell. This module runs on SQLite and on PostgreSQL, each a fresh registry.
"""

import json
import secrets
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import text

from anchoring.devnode import HardhatNode
from registry.core.events import Event, EventType, sign_event
from registry.db.engine import make_engine
from registry.keys import KeyEncryptor
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.e2e.harness import (
    ISSUER_ID,
    Accounts,
    CliResult,
    RunningRegistry,
    operator_service,
    start_registry,
    submission,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (the server migrates it), dropped at the end."""
    url = create_postgres_database(postgres_admin_url, "certreg_e2e")
    try:
        yield url
    finally:
        drop_postgres_database(postgres_admin_url, url)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def own_registry(
    request: pytest.FixtureRequest,
    hardhat: HardhatNode,
    accounts: Accounts,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningRegistry]:
    """A registry of this module's own: the test corrupts its database."""
    database_url = None
    if request.param == "postgresql":
        database_url = request.getfixturevalue("postgres_url")
    tmp = tmp_path_factory.mktemp(f"e2e-audit-{request.param}")
    with start_registry(hardhat, tmp, accounts, database_url=database_url) as running:
        yield running
        errors = running.server_errors()
    assert not errors, "the server logged errors:\n" + "\n".join(errors[:20])


def audit(registry: RunningRegistry, *options: str) -> CliResult:
    """`certreg audit` with the outsider's trust store (pinned against our own key)."""
    trust = registry.pin()
    return registry.outsider_cli("audit", "--trust-file", str(trust), "--json", *options)


def rewrite_as_suspend(registry: RunningRegistry, seq: int) -> dict[str, Any]:
    """What a dishonest operator could do: replace anchored event `seq` with a re-signed
    `suspend` of the same certificate, in place. Returns the new entry."""
    engine = make_engine(registry.database_url)
    try:
        with engine.begin() as connection:
            entry = connection.execute(
                text("SELECT entry FROM events WHERE seq = :seq"), {"seq": seq}
            ).scalar_one()
            event = Event.from_leaf(bytes(entry))
            sealed = connection.execute(
                text("SELECT private_key_enc FROM issuer_keys WHERE key_id = :key_id"),
                {"key_id": event.key_id},
            ).scalar_one()
            key = KeyEncryptor(registry.kek).open(bytes(sealed), key_id=event.key_id)
            forged = sign_event(
                replace(event, type=EventType.SUSPEND, reason="other", signature=None), key
            )
            connection.execute(
                text("UPDATE events SET entry = :entry, type = 'suspend' WHERE seq = :seq"),
                {"entry": forged.leaf_bytes(), "seq": seq},
            )
    finally:
        engine.dispose()
    found: dict[str, Any] = json.loads(forged.leaf_bytes())
    return found


def test_audit_passes_then_catches_a_rewritten_event(own_registry: RunningRegistry) -> None:
    registry = own_registry
    bodies = [submission(f"AUDIT-{i}-{secrets.token_hex(3)}", template=i) for i in range(3)]
    response = registry.http.post(
        "/v1/certificates/batch", json={"certificates": bodies}, headers=registry.auth
    )
    assert response.status_code == 201, response.text
    a, b, c = response.json()["certificates"]
    registry.wait_anchored(a["id"], seq=a["last_event_seq"])
    # A routine key rotation: the worker registers the new key and revokes the old once its
    # events are anchored. Earlier certificates stay VALID, and the audit agrees.
    with operator_service(registry.database_url, registry.kek) as service:
        service.rotate_key(ISSUER_ID)
    withdrawn = registry.change(a["id"], "withdraw", "fraud")
    registry.wait_anchored(a["id"], seq=withdrawn["last_event_seq"])
    suspended = registry.change(b["id"], "suspend", "surveillance-nonconformity")
    registry.wait_anchored(b["id"], seq=suspended["last_event_seq"])
    checkpoints = registry.http.get("/v1/checkpoints").json()["checkpoints"]
    assert len(checkpoints) >= 3

    # Honest: every checkpoint, consistency proof, entry, root and signature checks out; and
    # the auditor can show A was valid at the block of the first checkpoint.
    honest = audit(registry, "--at", str(checkpoints[0]["block_number"]), "--certificate", a["id"])
    assert honest.returncode == 0, honest.stdout + honest.stderr
    report = honest.json()
    assert report["ok"] is True and report["problems"] == []
    assert report["checkpoints"] == len(checkpoints)
    assert report["events"] == report["signatures_checked"] == checkpoints[-1]["tree_size"]
    assert report["at"]["status"] == "valid"
    assert report["at"]["checkpoint_index"] == checkpoints[0]["index"]
    # C was signed with the key retired since, and is verified with today's bundle.
    (fresh,) = registry.verify_cli([(registry.proof(c["id"]), [])])
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert fresh.json()["status"] == "VALID"
    assert registry.verify(registry.proof(c["id"]))["status"] == "VALID"

    # Dishonest: the withdrawal of A becomes a (re-signed, perfectly valid-looking) suspension.
    seq = withdrawn["last_event_seq"]
    forged = rewrite_as_suspend(registry, seq)
    served = registry.http.get("/v1/log/entries", params={"start": seq, "end": seq + 1}).json()
    assert served["entries"] == [forged]  # the registry now serves the rewritten history

    caught = audit(registry)
    assert caught.returncode == 1, caught.stdout + caught.stderr
    report = caught.json()
    assert report["ok"] is False
    covering = next(c for c in checkpoints if c["tree_size"] > seq)
    problems = "\n".join(report["problems"])
    assert f"checkpoint {covering['index']}: log root recomputed" in problems, problems
    assert f"checkpoint {covering['index']}: map root recomputed" in problems, problems
    # The forgery is signed with the issuer's real key: only the anchored roots expose it.
    assert "signature" not in problems, problems
