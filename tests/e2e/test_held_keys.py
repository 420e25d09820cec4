"""A CB that keeps its own signing key, end to end over HTTP and the `certreg` CLI only, and the
key-compromise drill (docs/spec.md §3.1, §11.11, §9.3).

The CB makes its key (`certreg keygen`) and proposes it; the authority approves it; officers
issue with `certreg issue --key`, signed on their machine. Then the key is reported compromised
at a time: the authority revokes it back to that time, the worker revokes it on chain from the
block of the first checkpoint after it, and exactly the certificates anchored after the
compromise verify INVALID, those before stay VALID; the CB has a new key approved and
re-issues them. On SQLite and on PostgreSQL, each a fresh registry."""

import datetime as dt
import functools
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anchoring.devnode import HardhatNode
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.e2e.harness import (
    Accounts,
    CliResult,
    RunningRegistry,
    certreg,
    eventually,
    start_registry,
    submission,
)

pytestmark = pytest.mark.e2e

CB = "vn-cb-kiemdinh"


@pytest.fixture(scope="module")
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    url = create_postgres_database(postgres_admin_url, "certreg_e2e_held")
    try:
        yield url
    finally:
        drop_postgres_database(postgres_admin_url, url)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def registry(
    request: pytest.FixtureRequest,
    hardhat: HardhatNode,
    accounts: Accounts,
    authority_key: tuple[Path, str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningRegistry]:
    database_url = None
    if request.param == "postgresql":
        database_url = request.getfixturevalue("postgres_url")
    tmp = tmp_path_factory.mktemp(f"e2e-held-{request.param}")
    extra = {"CERTREG_AUTHORITY_PUBLIC_KEY": authority_key[1]}
    with start_registry(
        hardhat, tmp, accounts, database_url=database_url, extra_env=extra
    ) as running:
        yield running
        errors = running.server_errors()
    assert not errors, "the server logged errors:\n" + "\n".join(errors[:20])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _person(registry: RunningRegistry, by: dict[str, str], **account: Any) -> str:
    created = registry.http.post("/v1/accounts", json=account, headers=by)
    assert created.status_code == 201, created.text
    setup = _bearer(created.json()["setup_token"])
    token = registry.http.post("/v1/tokens", json={"label": "e2e"}, headers=setup)
    assert token.status_code == 201, token.text
    return str(token.json()["secret"])


def _ok(done: CliResult) -> dict[str, Any]:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.json()


def _anchored(registry: RunningRegistry, ids: list[str]) -> list[dict[str, Any]]:
    """The bundles of `ids` once an anchored checkpoint covers their last events."""
    bundles: list[dict[str, Any]] = []

    def covered() -> bool:
        bundles[:] = [registry.proof(i) for i in ids]
        return all(b["status"] == "ANCHORED" for b in bundles)

    eventually(covered, timeout_s=60)
    return bundles


def _key_state(registry: RunningRegistry, key_id: str) -> dict[str, Any]:
    keys = registry.http.get(f"/v1/issuers/{CB}/keys").json()["keys"]
    return dict(next(k for k in keys if k["key_id"] == key_id))


def test_a_cb_keeps_its_key_and_survives_its_compromise(
    registry: RunningRegistry, authority_key: tuple[Path, str, str], tmp_path: Path
) -> None:
    key_file, _, authority_vkey = authority_key
    init = _ok(
        certreg(
            "authority",
            "init",
            "--name",
            "Lê Thị Bình",
            "--json",
            env=registry.env,
            cwd=registry.data_dir,
        )
    )
    made = registry.http.post(
        "/v1/tokens", json={"label": "cli"}, headers=_bearer(init["setup_token"])
    )
    assert made.status_code == 201, made.text
    authority_token = made.json()["secret"]

    def authority(*args: str) -> dict[str, Any]:
        return _ok(
            certreg(
                "authority",
                *args,
                "--key",
                str(key_file),
                "--issuer",
                CB,
                "--api",
                registry.url,
                "--token",
                authority_token,
                "--json",
                env={},
                cwd=key_file.parent,
            )
        )

    kind = submission("X")["kind"]
    authority(
        "admit",
        "--name-vi", "Trung tâm Kiểm định", "--name-en", "Verification Centre",
        "--accreditation-body", "BoA", "--accreditation-number", "VILAS 1234",
        "--kind", kind, "--valid-from", "2020-01-01", "--valid-until", "2099-12-31",
    )  # fmt: skip
    admin = _person(
        registry, _bearer(authority_token), role="cb_admin", issuer_id=CB, name="Quản trị"
    )
    officer = _person(registry, _bearer(admin), role="cb_officer", issuer_id=CB, name="Cán bộ")

    # The CB's machine: its key, never sent; the officer's commands sign there.
    cb_home = tmp_path / "cb"
    cb_home.mkdir()

    def cb(*args: str, token: str = officer) -> dict[str, Any]:
        return _ok(
            certreg(*args, "--api", registry.url, "--token", token, "--json", env={}, cwd=cb_home)
        )

    def new_key(name: str) -> str:
        made_key = _ok(
            certreg("keygen", "--out", str(cb_home / name), "--json", env={}, cwd=cb_home)
        )
        assert (cb_home / name).stat().st_mode & 0o777 == 0o600
        proposed = cb("signing-key", "propose", "--key", str(cb_home / name), token=admin)
        assert (proposed["key_id"], proposed["custody"]) == (made_key["key_id"], "held")
        assert proposed["state"] == "proposed"
        # The authority approves the key id the CB read out to it.
        approved = authority("approve-key", "--key-id", made_key["key_id"])
        assert approved == {"approved": made_key["key_id"], "custody": "held"}
        return str(made_key["key_id"])

    first_key = new_key("cb-2026.key")
    assert _key_state(registry, first_key)["state"] == "active"

    def issue(numbers: list[str], key: str) -> list[str]:
        batch = cb_home / f"batch-{secrets.token_hex(3)}.json"
        batch.write_text(
            json.dumps([submission(n) for n in numbers], ensure_ascii=False), encoding="utf-8"
        )
        done = cb("issue", str(batch), "--key", str(cb_home / key))
        assert [s["created"] for s in done["statements"]] == [True] * len(numbers)
        return [s["certificate"]["id"] for s in done["statements"]]

    # The registry itself cannot sign for this CB any more.
    refused = registry.http.post(
        "/v1/certificates", json=submission("HELD-X"), headers=_bearer(officer)
    )
    assert refused.status_code == 403 and "custody held" in refused.json()["detail"]

    before = issue([f"HELD-A-{secrets.token_hex(2)}" for _ in range(2)], "cb-2026.key")
    for bundle in _anchored(registry, before):
        assert bundle["event"]["version"] == 2 and "seq" in bundle["event"]
        assert bundle["key_approval"]["entry"]["statement"]["custody"] == "held"
        verdict = registry.verify(bundle)
        assert verdict["status"] == "VALID", verdict
        assert verdict["key_custody"] == "held"
    assert _key_state(registry, first_key)["valid_from_block"] is not None

    # The compromise: after the first batch was anchored (the chain's time of that anchoring:
    # a dev chain's block clock may run ahead of this one); the next batch, signed with the
    # same key, is anchored after it (forged, for all anyone can tell).
    checkpoints = registry.http.get("/v1/checkpoints").json()["checkpoints"]
    compromised_at = dt.datetime.fromtimestamp(checkpoints[-1]["block_timestamp"], dt.UTC)
    after = issue([f"HELD-B-{secrets.token_hex(2)}" for _ in range(2)], "cb-2026.key")
    _anchored(registry, after)
    revoked = authority(
        "revoke-key", "--key-id", first_key, "--reason", "key-compromise reported by the CB",
        "--compromised-at", compromised_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )  # fmt: skip
    before_size = max(b["event"]["seq"] for b in _anchored(registry, before)) + 1
    assert (
        before_size
        <= revoked["revoked_from_seq"]
        <= min(b["event"]["seq"] for b in _anchored(registry, after))
    )
    eventually(
        lambda: _key_state(registry, first_key)["revoked_at_block"] is not None, timeout_s=60
    )
    assert _key_state(registry, first_key)["state"] == "revoked"
    # The revoked key signs nothing more.
    batch = cb_home / "late.json"
    batch.write_text(json.dumps([submission("HELD-C-1")]), encoding="utf-8")
    late = certreg(
        "issue", str(batch), "--key", str(cb_home / "cb-2026.key"), "--api", registry.url,
        "--token", officer, env={}, cwd=cb_home,
    )  # fmt: skip
    assert late.returncode == 2 and "403" in late.stderr, late.stdout + late.stderr

    # Exactly the certificates anchored after the compromise are INVALID, with the reason.
    for bundle in _anchored(registry, before):
        assert registry.verify(bundle)["status"] == "VALID"
    after_bundles = _anchored(registry, after)

    def invalid(bundle: dict[str, Any]) -> bool:
        return bool(registry.verify(bundle)["status"] == "INVALID")

    for bundle in after_bundles:
        # The API's verifier keeps issuer keys read from the chain for a few seconds
        # (verifier.chain.FactsCache): the revocation shows within that.
        eventually(functools.partial(invalid, bundle), timeout_s=30)
        verdict = registry.verify(bundle)
        check = next(c for c in verdict["checks"] if c["name"] == "issuer_key_registered")
        assert (check["status"], check["code"]) == ("failed", "key_not_in_force"), check
    # A verifier of its own, reading the chain afresh, says the same: exit 1.
    [(refused_cli), (kept_cli)] = registry.verify_cli(
        [(after_bundles[0], []), (_anchored(registry, before)[0], [])]
    )
    assert refused_cli.returncode == 1, refused_cli.stdout + refused_cli.stderr
    assert refused_cli.json()["status"] == "INVALID"
    assert kept_cli.returncode == 0, kept_cli.stdout + kept_cli.stderr

    # The CB re-issues them under a new key, as replacements.
    new_key("cb-2026-2.key")
    replacements = []
    for old_id in after:
        replacement = cb_home / f"re-{old_id[:10]}.json"
        replacement.write_text(
            json.dumps(submission(f"HELD-R-{secrets.token_hex(3)}")), encoding="utf-8"
        )
        done = cb(
            "supersede", old_id, str(replacement), "--reason", "error-in-issue",
            "--note", "re-issued after the key compromise", "--key", str(cb_home / "cb-2026-2.key"),
        )  # fmt: skip
        replacements.append(done["statements"][0]["certificate"]["id"])
    for bundle in _anchored(registry, replacements):
        verdict = registry.verify(bundle)
        assert verdict["status"] == "VALID", verdict
        assert verdict["key_custody"] == "held"
    for bundle in _anchored(registry, after):
        assert registry.verify(bundle)["status"] in ("SUPERSEDED", "INVALID")

    # An auditor who pins the authority's key replays it all: every statement signed, every
    # governed event's key approved before it and not revoked at it.
    last = registry.http.get("/v1/registry").json()["log_size"]
    eventually(
        lambda: (
            max(c["tree_size"] for c in registry.http.get("/v1/checkpoints").json()["checkpoints"])
            >= last
        ),
        timeout_s=60,
    )
    trust = registry.outsider_home / "trust-with-authority.json"
    pinned = registry.outsider_cli(
        "trust", "add", registry.url, "--rpc", registry.rpc_url, "--yes",
        "--authority-vkey", authority_vkey, "--trust-file", str(trust),
    )  # fmt: skip
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    audit = registry.outsider_cli("audit", "--trust-file", str(trust), "--json")
    report = audit.json()
    # What it finds is exactly the compromise: the two events the chain now refuses.
    assert audit.returncode == 1, audit.stdout + audit.stderr
    refused_seqs = sorted(b["event"]["seq"] for b in after_bundles)
    assert [p.split(":")[0] for p in report["problems"]] == [f"event {s}" for s in refused_seqs]
    assert all(f"key {first_key} not in force" in p for p in report["problems"]), report
    # admit, two approve_key, revoke_key: each signed by the pinned authority
    assert report["statements"] == report["authority_signatures_checked"] == 4
    assert report["keys_checked"] == 6  # 2 + 2 issued, 2 replacements
    assert report["revocations_checked"] == 1  # the chain carries the authority's revocation
