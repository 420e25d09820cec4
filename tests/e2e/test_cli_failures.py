"""`certreg verify` and `certreg audit` as a newcomer meets them, through the real CLI (a
subprocess) against the running registry and chain: with the registry or the RPC down,
`--registry` pointed at the chain's port, a wrong contract, or a file that is no bundle, each
failure is one line saying what is wrong, with the exit code of docs/spec.md §9.4."""

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import CliResult, RunningRegistry, submission

pytestmark = pytest.mark.e2e

DEAD = "http://127.0.0.1:9"  # the discard port: nothing listens
WRONG_CONTRACT = "0x" + "12" * 20


def no_traceback(result: CliResult) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr


def one_line(result: CliResult, code: int, *needles: str) -> None:
    assert result.returncode == code, result.stdout + result.stderr
    no_traceback(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def anchored(registry: RunningRegistry) -> dict[str, Any]:
    created = registry.issue(submission(f"E2E-CLI-{secrets.token_hex(3)}", template=2))
    return registry.wait_anchored(created["id"], seq=created["last_event_seq"])


def bundle_file(registry: RunningRegistry, bundle: dict[str, Any]) -> str:
    path = registry.outsider_home / f"cli-{secrets.token_hex(4)}.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return str(path)


def store(registry: RunningRegistry, name: str, **changes: Any) -> Path:
    """A trust store like `pin`'s, with some members changed (a misconfigured verifier)."""
    entries = json.loads(registry.pin().read_text(encoding="utf-8"))
    for entry in entries["entries"]:
        entry.update(changes)
    path = registry.outsider_home / f"trust-{name}.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


def test_the_rpc_down(registry: RunningRegistry, anchored: dict[str, Any]) -> None:
    path = bundle_file(registry, anchored)
    trust = str(registry.pin())
    verified = registry.outsider_cli("verify", path, "--trust-file", trust, "--rpc", DEAD)
    assert verified.returncode == 3, verified.stdout + verified.stderr
    no_traceback(verified)
    assert verified.stdout.startswith("UNCONFIRMED")
    assert "chain_unavailable" in verified.stdout and DEAD in verified.stdout
    audited = registry.outsider_cli("audit", "--trust-file", trust, "--rpc", DEAD)
    one_line(audited, 3, f"certreg audit: the chain at {DEAD} did not answer")


def test_the_registry_down(registry: RunningRegistry, anchored: dict[str, Any]) -> None:
    trust = str(registry.pin())
    audited = registry.outsider_cli("audit", "--trust-file", trust, "--registry", DEAD)
    one_line(audited, 3, "certreg audit: could not reach the registry")
    added = registry.outsider_cli(
        "trust", "add", DEAD, "--yes", "--trust-file", str(registry.outsider_home / "t.json")
    )
    one_line(added, 2, "certreg trust add: could not reach")


def test_registry_pointed_at_the_chain(registry: RunningRegistry, anchored: dict[str, Any]) -> None:
    added = registry.outsider_cli(
        "trust", "add", registry.rpc_url, "--yes",
        "--trust-file", str(registry.outsider_home / "t.json"),
    )  # fmt: skip
    one_line(added, 2, "does not look like a certreg registry")
    trust = str(registry.pin())
    audited = registry.outsider_cli("audit", "--trust-file", trust, "--registry", registry.rpc_url)
    assert audited.returncode == 1, audited.stdout + audited.stderr  # findings, not a crash
    no_traceback(audited)
    assert "DIVERGES" in audited.stdout


def test_a_wrong_contract(registry: RunningRegistry, anchored: dict[str, Any]) -> None:
    # The bundle names the registry's contract; the trust store pins an address without our
    # code. Whether the bundle's contract succeeds the pinned one (docs/spec.md §7.7) only the
    # pinned contract's chain could say, and it cannot: UNCONFIRMED, saying why — never VALID.
    # (A pinned contract with our code that the bundle's is no successor of is INVALID,
    # anchor_mismatch: tests/integration/anchoring/test_succession.py.)
    path = bundle_file(registry, anchored)
    wrong = str(store(registry, "wrong-contract", contract=WRONG_CONTRACT))
    verified = registry.outsider_cli("verify", path, "--trust-file", wrong, "--json")
    assert verified.returncode == 3, verified.stdout + verified.stderr
    no_traceback(verified)
    verdict = verified.json()
    assert verdict["status"] == "UNCONFIRMED"
    anchored_check = next(c for c in verdict["checks"] if c["name"] == "checkpoint_anchored")
    assert anchored_check["code"] == "chain_unavailable"
    assert f"code at {WRONG_CONTRACT}: got 0 bytes" in anchored_check["message"]
    audited = registry.outsider_cli("audit", "--trust-file", wrong)
    one_line(audited, 3, "certreg audit: the chain at", "did not answer", "code at")


def test_files_that_are_no_bundle(registry: RunningRegistry, tmp_path: Path) -> None:
    trust = str(registry.pin())
    pdf = tmp_path / "certificate.pdf"
    pdf.write_bytes(registry.http.get(f"/v1/certificates/{_any_id(registry)}/pdf").content)
    text = tmp_path / "notes.txt"
    text.write_text("not json", encoding="utf-8")
    other = tmp_path / "other.json"
    other.write_text('{"checks": []}', encoding="utf-8")
    for target, needle in (
        (pdf, "got PDF"),
        (text, "not JSON"),
        (other, "not a certreg proof bundle"),
        (tmp_path, "got a directory"),
        (tmp_path / "missing.json", "no such file"),
    ):
        result = registry.outsider_cli("verify", str(target), "--trust-file", trust)
        one_line(result, 2, "certreg verify:", needle)


def test_nothing_pinned_says_what_to_run(
    registry: RunningRegistry, anchored: dict[str, Any]
) -> None:
    empty = str(registry.outsider_home / "empty-trust.json")
    path = bundle_file(registry, anchored)
    one_line(registry.outsider_cli("verify", path, "--trust-file", empty), 2, "certreg trust add")
    one_line(registry.outsider_cli("audit", "--trust-file", empty), 2, "certreg trust add")


def _any_id(registry: RunningRegistry) -> str:
    created = registry.issue(submission(f"E2E-PDF-{secrets.token_hex(3)}", template=1))
    return str(created["id"])
