"""The authority end to end, over HTTP and the `certreg` CLI only: its key made with
`certreg authority keygen`, its first admin with `authority init`, a CB admitted with a
statement signed by `certreg authority admit` and submitted to the running registry; the CB's
officer issues within scope only, not while suspended; the statements are anchored with the
certificates, and `certreg audit` replays both kinds of entry to the anchored roots. On SQLite
and on PostgreSQL, each a fresh registry."""

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anchoring.devnode import HardhatNode
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.e2e.harness import (
    ISSUER_ID,
    SAMPLES,
    Accounts,
    RunningRegistry,
    certreg,
    start_registry,
    submission,
)

pytestmark = pytest.mark.e2e

CB = "vn-cb-hoabinh"
PASSWORD = "một mật khẩu đủ dài"


@pytest.fixture(scope="module")
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    url = create_postgres_database(postgres_admin_url, "certreg_e2e_gov")
    try:
        yield url
    finally:
        drop_postgres_database(postgres_admin_url, url)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def governed(
    request: pytest.FixtureRequest,
    hardhat: HardhatNode,
    accounts: Accounts,
    authority_key: tuple[Path, str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningRegistry]:
    database_url = None
    if request.param == "postgresql":
        database_url = request.getfixturevalue("postgres_url")
    tmp = tmp_path_factory.mktemp(f"e2e-governance-{request.param}")
    extra = {"CERTREG_AUTHORITY_PUBLIC_KEY": authority_key[1]}
    with start_registry(
        hardhat, tmp, accounts, database_url=database_url, extra_env=extra
    ) as running:
        yield running
        errors = running.server_errors()
    assert not errors, "the server logged errors:\n" + "\n".join(errors[:20])


def _wait_anchored_size(registry: RunningRegistry, size: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        checkpoints = registry.http.get("/v1/checkpoints").json()["checkpoints"]
        if checkpoints and max(c["tree_size"] for c in checkpoints) >= size:
            return
        assert time.monotonic() < deadline, f"no anchored checkpoint of {size} entries"
        time.sleep(0.1)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _person(registry: RunningRegistry, by: dict[str, str], **account: Any) -> dict[str, str]:
    """An account made by `by`, its holder's API token made with the account's setup token."""
    created = registry.http.post("/v1/accounts", json=account, headers=by)
    assert created.status_code == 201, created.text
    setup = _bearer(created.json()["setup_token"])
    token = registry.http.post("/v1/tokens", json={"label": "e2e"}, headers=setup)
    assert token.status_code == 201, token.text
    return _bearer(token.json()["secret"])


def test_the_authority_admits_a_cb_that_then_issues_within_scope(
    governed: RunningRegistry,
    authority_key: tuple[Path, str, str],
) -> None:
    registry = governed
    key_file, public_key, authority_vkey = authority_key
    assert registry.http.get("/v1/registry").json()["authority_key"] == public_key

    init = certreg(
        "authority", "init", "--name", "Trần Văn An", "--json",
        env=registry.env, cwd=registry.data_dir,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    admin = registry.http.post(
        "/v1/tokens", json={"label": "cli"}, headers=_bearer(init.json()["setup_token"])
    )
    assert admin.status_code == 201, admin.text
    token = admin.json()["secret"]

    def authority(*args: str) -> dict[str, Any]:
        done = certreg(
            "authority", *args, "--key", str(key_file), "--issuer", CB,
            "--api", registry.url, "--token", token, "--json",
            env={}, cwd=key_file.parent,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        result: dict[str, Any] = done.json()
        return result

    admitted = authority(
        "admit",
        "--name-vi", "Trung tâm Hòa Bình", "--name-en", "Hoa Binh Centre",
        "--accreditation-body", "BoA", "--accreditation-number", "VICAS 777",
        "--kind", "product-conformity", "--kind", "regulation-conformity",
        "--valid-from", "2020-01-01", "--valid-until", "2099-12-31", "--hosted-key",
    )  # fmt: skip
    assert admitted["leaf"]["status"] == "admitted"
    [hosted] = registry.http.get(f"/v1/issuers/{CB}/keys").json()["keys"]
    assert (hosted["custody"], hosted["state"]) == ("hosted", "active")
    admission = registry.http.get(f"/v1/admissions/{CB}").json()
    assert admission["statement"]["scope"]["kinds"] == [
        "product-conformity",
        "regulation-conformity",
    ]

    cb_admin = _person(
        registry, _bearer(token), role="cb_admin", issuer_id=CB, name="Quản trị", login="hb-admin"
    )
    officer = _person(registry, cb_admin, role="cb_officer", issuer_id=CB, name="Cán bộ")
    body = {**submission(f"GOV-{secrets.token_hex(3)}"), "kind": "regulation-conformity"}
    issued = registry.http.post("/v1/certificates", json=body, headers=officer)
    assert issued.status_code == 201, issued.text
    sample = next(c for c in SAMPLES["certificates"] if c["kind"] == "calibration")
    calibration = {
        **{k: v for k, v in sample.items() if k != "issuer_id"},
        "number": f"GOV-{secrets.token_hex(3)}",
    }
    refused = registry.http.post("/v1/certificates", json=calibration, headers=officer)
    assert refused.status_code == 403 and "kind_not_covered" in refused.json()["detail"]

    # Signed on one machine (--out), submitted from another.
    signed_file = key_file.parent / f"suspend-{secrets.token_hex(3)}.json"
    written = authority(
        "suspend", "--reason", "Đình chỉ để đánh giá lại", "--out", str(signed_file)
    )
    assert written == {"written": str(signed_file)}
    submitted = certreg(
        "authority", "submit", str(signed_file), "--api", registry.url, "--token", token,
        "--json", env={}, cwd=key_file.parent,
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    suspended: dict[str, Any] = submitted.json()
    assert suspended["leaf"]["status"] == "suspended"
    again = {**body, "number": f"GOV-{secrets.token_hex(3)}"}
    refused = registry.http.post("/v1/certificates", json=again, headers=officer)
    assert refused.status_code == 403 and "suspended" in refused.json()["detail"]
    # The registry's CB from before the authority's statements is adopted by one: its old API
    # key (a token of its system officer) keeps issuing, now held to the admission.
    adopted = certreg(
        "authority", "adopt", "--key", str(key_file), "--accreditation-body", "BoA",
        "--valid-until", "2099-12-31", "--api", registry.url, "--token", token, "--json",
        env={}, cwd=key_file.parent,
    )  # fmt: skip
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    assert adopted.json() == {"adopted": [ISSUER_ID]}
    listed = {i["issuer_id"]: i for i in registry.http.get("/v1/issuers").json()["issuers"]}
    assert listed[ISSUER_ID]["admission"]["status"] == "admitted"
    assert listed[CB]["admission"]["status"] == "suspended"
    legacy = registry.http.post(
        "/v1/certificates", json=submission(f"GOV-{secrets.token_hex(3)}"), headers=registry.auth
    )
    assert legacy.status_code == 201, legacy.text
    last = registry.http.get("/v1/registry").json()["log_size"]
    _wait_anchored_size(registry, last)

    # A verifier that pins the authority's key (given out of band) has every statement's
    # signature checked by the audit; the registry must check statements with the same key.
    impostor = certreg(
        "authority", "keygen", "--out", str(key_file.parent / f"x-{secrets.token_hex(3)}.pem"),
        "--name", "stameq.test", "--json", env={}, cwd=key_file.parent,
    )  # fmt: skip
    mismatch = registry.outsider_cli(
        "trust", "add", registry.url, "--rpc", registry.rpc_url, "--yes",
        "--authority-vkey", impostor.json()["vkey"],
        "--trust-file", str(registry.outsider_home / "refused.json"),
    )  # fmt: skip
    assert mismatch.returncode == 2 and "not pinned" in mismatch.stderr, mismatch.stderr
    trust = registry.pin("--authority-vkey", authority_vkey)
    audit = registry.outsider_cli("audit", "--trust-file", str(trust), "--json")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    report = audit.json()
    # admit + approve_key of the hosted key, suspend, adopt's admit + approve_key
    assert report["ok"] is True and report["statements"] == 5
    assert report["admissions_checked"] == 2  # the two issued under an admission
    assert report["keys_checked"] == 2  # their keys, approved before them
    assert report["authority_signatures_checked"] == 5
    # With the records: each certificate issued under an admission was within its scope.
    scoped = registry.outsider_cli("audit", "--trust-file", str(trust), "--records", "--json")
    assert scoped.returncode == 0, scoped.stdout + scoped.stderr
    assert scoped.json()["scope_checked"] == 2

    # The bundle carries the admission the event names; the verifier checks it against the
    # pinned authority key. The CB's later suspension leaves the certificate valid.
    bundle = registry.proof(issued.json()["id"])
    assert bundle["status"] == "ANCHORED"
    assert bundle["admission"]["entry"]["seq"] == admitted["seq"]
    assert bundle["key_approval"]["entry"]["statement"]["custody"] == "hosted"
    verdict = registry.verify(bundle)
    assert verdict["status"] == "VALID", verdict
    assert verdict["key_custody"] == "hosted"
    accredited = next(c for c in verdict["checks"] if c["name"] == "issuer_accredited")
    assert (accredited["status"], accredited["code"]) == ("passed", "accredited")
    assert "BoA VICAS 777 for regulation-conformity" in accredited["message"]
    (cli,) = registry.verify_cli([(bundle, [])])
    assert cli.returncode == 0 and cli.json()["status"] == "VALID", cli.stdout + cli.stderr
    # Tampered admissions are refused: another scope (the authority's signature and the log's
    # inclusion no longer hold), or none at all.
    widened = json.loads(json.dumps(bundle))
    widened["admission"]["entry"]["statement"]["scope"]["kinds"] = ["calibration"]
    assert registry.verify(widened)["status"] == "INVALID"
    stripped = {k: v for k, v in bundle.items() if k != "admission"}
    without = registry.verify(stripped)
    assert without["status"] == "INVALID"
    assert any(c["code"] == "missing_admission" for c in without["checks"])
    # The adopted CB's certificate, issued since, names the admission that adopted it.
    adopted_cb = registry.verify(registry.proof(legacy.json()["id"]))
    check = next(c for c in adopted_cb["checks"] if c["name"] == "issuer_accredited")
    assert check["status"] == "passed" and adopted_cb["status"] == "VALID", adopted_cb
    assert report["events"] == last

    # The CB is withdrawn, and can no longer act on its certificates: the authority withdraws
    # the one it issued, by a statement about that certificate. Its bundle proves the status
    # from the authority's entry, its issue still from the CB's own signed event.
    authority("withdraw", "--reason", "Thu hồi quyết định chỉ định")
    acted = authority(
        "withdraw-certificate", "--all", "--reason", "Tổ chức chứng nhận đã bị thu hồi chỉ định"
    )
    assert [a["certificate_id"] for a in acted["certificates"]] == [issued.json()["id"]]
    withdrawn_at = acted["certificates"][0]["seq"]
    _wait_anchored_size(registry, withdrawn_at + 1)
    bundle = registry.proof(issued.json()["id"])
    assert bundle["status_proof"]["leaf"]["event_seq"] == withdrawn_at
    assert bundle["event"]["type"] == "issue"
    assert bundle["authority_action"]["entry"]["seq"] == withdrawn_at
    verdict = registry.verify(bundle)
    assert verdict["status"] == "WITHDRAWN", verdict
    (cli,) = registry.verify_cli([(bundle, [])])
    assert cli.returncode == 1 and cli.json()["status"] == "WITHDRAWN", cli.stdout + cli.stderr
    audit = registry.outsider_cli("audit", "--trust-file", str(trust), "--json")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert audit.json()["statements"] == 7  # and the CB's withdrawal, and the certificate's
