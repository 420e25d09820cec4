import base64
import inspect
import json
import re
from pathlib import Path
from typing import Any

import cbor2
import pytest
import typer.main
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from api.cli import app
from registry.compact import encode_bundle
from registry.core.checkpoint import verify_checkpoint
from registry.core.note import NoteSigner, NoteVerifier
from registry.core.verify import CHECK_NAMES
from tests.bundles import CONTRACT as BUNDLE_CONTRACT
from tests.bundles import World, sample
from verifier.trust import TrustEntry, TrustStore

runner = CliRunner()


class TestDemo:
    def test_json_is_one_object_with_a_verifiable_checkpoint(self) -> None:
        result = runner.invoke(app, ["demo", "--json"])
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        # 48 samples issued, then 4 changes and a supersede that issues a 49th certificate.
        assert out["certificates"] == 49
        assert out["events"] == 48 + 5
        verifier = NoteVerifier.from_vkey(out["registry_vkey"])
        checkpoint = verify_checkpoint(out["checkpoint"], verifier=verifier)
        assert checkpoint.tree_size == out["events"]
        assert out["replayed_map_root"] == "0x" + checkpoint.map_root.hex()
        assert out["proved"]["status"] == "withdrawn"
        assert out["proved"]["verdict"] == "WITHDRAWN"
        # every check passes but the admission's: the demo's CB is not admitted by statements
        assert out["proved"]["checks"] == [n for n in CHECK_NAMES if n != "issuer_accredited"]
        assert out["superseded"]["verdict"] == "SUPERSEDED"
        assert out["absent_verdict"] == "UNKNOWN"

    def test_human_output_names_what_was_verified(self) -> None:
        result = runner.invoke(app, ["demo"])
        assert result.exit_code == 0, result.output
        assert "WITHDRAWN at event" in result.stdout
        assert "issuer_signature, issuer_key_registered, log_inclusion" in result.stdout
        assert "UNKNOWN, absence proved" in result.stdout
        assert "replayed the log from the start" in result.stdout


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.stdout


BAD_VKEY = "e2e.test/log+00000000+AW1IMiMUVXl+EnwGajtvBIBfSMwcl4rFuU7Kf7/8mWgv"
CONTRACT = "0x" + "11" * 20


def good_vkey() -> str:
    return NoteSigner(name="cli.test/log", private_key=Ed25519PrivateKey.generate()).verifier().vkey


def one_line_error(result: Any, code: int, *needles: str) -> None:
    """The failure is one line on stderr naming what is wrong, with the exit code of spec §9.4."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "trust.json"
    monkeypatch.setenv("CERTREG_TRUST_FILE", str(path))
    return path


class TestVerifyInputErrors:
    def test_no_such_file(self, tmp_path: Path, empty_store: Path) -> None:
        result = runner.invoke(app, ["verify", str(tmp_path / "nope.json")])
        one_line_error(result, 2, "no such file")

    def test_a_directory(self, tmp_path: Path, empty_store: Path) -> None:
        one_line_error(runner.invoke(app, ["verify", str(tmp_path)]), 2, "got a directory")

    def test_not_json(self, tmp_path: Path, empty_store: Path) -> None:
        path = tmp_path / "notes.txt"
        path.write_text("hello", encoding="utf-8")
        one_line_error(runner.invoke(app, ["verify", str(path)]), 2, "not JSON")

    def test_a_pdf(self, tmp_path: Path, empty_store: Path) -> None:
        path = tmp_path / "certificate.pdf"
        path.write_bytes(b"%PDF-1.4\n\xe2\xe3\xcf\xd3\n1 0 obj")
        one_line_error(runner.invoke(app, ["verify", str(path)]), 2, "got PDF")

    def test_json_that_is_not_a_bundle(self, tmp_path: Path, empty_store: Path) -> None:
        path = tmp_path / "other.json"
        path.write_text('{"hello": "world"}', encoding="utf-8")
        one_line_error(runner.invoke(app, ["verify", str(path)]), 2, "not a certreg proof bundle")

    def test_a_malformed_bundle_of_ours_is_invalid(self, tmp_path: Path) -> None:
        path = tmp_path / "bundle.json"
        path.write_text('{"format": "certreg-bundle/2"}', encoding="utf-8")
        args = ["verify", str(path), "--vkey", good_vkey(), "--contract", CONTRACT]
        result = runner.invoke(app, [*args, "--chain-id", "31337", "--offline", "--json"])
        assert result.exit_code == 1, result.output
        assert json.loads(result.stdout)["status"] == "INVALID"


class TestVerifyCompactFiles:
    """A compact (CBOR) bundle is recognised by its content, whatever the file's name."""

    def run(self, path: Path) -> Any:
        vkey, bundle_contract = _genuine_trust()
        args = ["verify", str(path), "--vkey", vkey, "--contract", bundle_contract]
        return runner.invoke(app, [*args, "--chain-id", "31337", "--offline", "--json"])

    def test_a_compact_bundle_verifies_as_its_json(self, tmp_path: Path) -> None:
        as_json = tmp_path / "bundle.json"
        as_json.write_text(json.dumps(_genuine_bundle()), encoding="utf-8")
        compact = tmp_path / "bundle.cbor"
        compact.write_bytes(encode_bundle(_genuine_bundle()))
        unnamed = tmp_path / "download"
        unnamed.write_bytes(compact.read_bytes())
        want = self.run(as_json)
        assert want.exit_code == 3, want.output  # offline: UNCONFIRMED, every proof passed
        for path in (compact, unnamed):
            got = self.run(path)
            assert got.exit_code == 3, got.output
            assert json.loads(got.stdout) == json.loads(want.stdout)

    def test_a_damaged_compact_bundle_is_invalid(self, tmp_path: Path) -> None:
        data = bytearray(encode_bundle(_genuine_bundle()))
        data.append(0)  # a byte after the item: not the deterministic encoding
        path = tmp_path / "bundle.cbor"
        path.write_bytes(bytes(data))
        result = self.run(path)
        assert result.exit_code == 1, result.output
        verdict = json.loads(result.stdout)
        assert verdict["status"] == "INVALID"
        assert {c["code"] for c in verdict["checks"]} == {"malformed_bundle"}
        assert "deterministic" in verdict["checks"][0]["message"]

    def test_a_tampered_hash_in_a_compact_bundle_is_invalid(self, tmp_path: Path) -> None:
        bundle = _genuine_bundle()
        data = encode_bundle(bundle)
        signature = base64.b64decode(bundle["event"]["signature"])
        at = data.index(signature)
        path = tmp_path / "bundle.cbor"
        path.write_bytes(data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :])
        result = self.run(path)
        assert result.exit_code == 1, result.output
        assert json.loads(result.stdout)["status"] == "INVALID"

    def test_cbor_that_is_not_our_bundle_is_an_input_error(self, tmp_path: Path) -> None:
        path = tmp_path / "other.cbor"
        path.write_bytes(cbor2.dumps({"format": "something-else/1", "x": b"\x00"}))
        one_line_error(self.run(path), 2, "want a certreg proof bundle")


class TestVerifyTrustErrors:
    def bundle(self, tmp_path: Path) -> Path:
        path = tmp_path / "bundle.json"
        path.write_text('{"format": "certreg-bundle/2"}', encoding="utf-8")
        return path

    def test_told_nothing_about_trust_it_says_what_to_run(
        self, tmp_path: Path, empty_store: Path
    ) -> None:
        result = runner.invoke(app, ["verify", str(self.bundle(tmp_path))])
        one_line_error(result, 2, "no registry is trusted yet", "certreg trust add")

    def test_a_bad_vkey(self, tmp_path: Path) -> None:
        args = ["verify", str(self.bundle(tmp_path)), "--vkey", BAD_VKEY, "--contract", CONTRACT]
        result = runner.invoke(app, [*args, "--chain-id", "31337"])
        one_line_error(result, 2, "certreg verify: --vkey", "key id")

    def test_flags_pin_trust_only_together(self, tmp_path: Path) -> None:
        result = runner.invoke(app, ["verify", str(self.bundle(tmp_path)), "--vkey", good_vkey()])
        one_line_error(result, 2, "--vkey, --contract and --chain-id pin trust together")

    def test_no_rpc_is_unconfirmed_never_valid(self, tmp_path: Path) -> None:
        # the scenario of a bundle checked with pinned flags but no chain: UNCONFIRMED, exit 3
        path = tmp_path / "bundle.json"
        path.write_text(json.dumps(_genuine_bundle()), encoding="utf-8")
        vkey, bundle_contract = _genuine_trust()
        args = ["verify", str(path), "--vkey", vkey, "--contract", bundle_contract]
        result = runner.invoke(app, [*args, "--chain-id", "31337", "--json"])
        assert result.exit_code == 3, result.output
        verdict = json.loads(result.stdout)
        assert verdict["status"] == "UNCONFIRMED"


class TestAuditErrors:
    def test_told_nothing_about_trust(self, empty_store: Path) -> None:
        one_line_error(runner.invoke(app, ["audit"]), 2, "certreg trust add")

    def test_the_chain_down_is_one_line_and_exit_3(
        self, empty_store: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        store = TrustStore(empty_store)
        vkey = good_vkey()
        store.add(
            TrustEntry(
                version=1,
                origin="cli.test/log",
                vkey=vkey,
                chain_id=31337,
                contract=CONTRACT,
                rpc=["http://127.0.0.1:9"],
                registry_url="http://127.0.0.1:9",
            )
        )
        store.save()
        result = runner.invoke(app, ["audit"])
        one_line_error(result, 3, "certreg audit: the chain at http://127.0.0.1:9 did not answer")


def _world() -> Any:
    world = World()
    cid = world.issue(sample("inspection"))
    world.checkpoint()
    return world, cid


_CACHE: dict[str, Any] = {}


def _genuine() -> Any:
    if "world" not in _CACHE:
        _CACHE["world"] = _world()
    return _CACHE["world"]


def _genuine_bundle() -> dict[str, Any]:
    world, cid = _genuine()
    bundle: dict[str, Any] = world.bundle(cid)
    return bundle


def _genuine_trust() -> tuple[str, str]:
    world, _ = _genuine()
    return world.signer.verifier().vkey, BUNDLE_CONTRACT


@pytest.mark.parametrize(
    "command",
    [["verify"], ["audit"], ["trust", "add"], ["trust", "list"], ["trust", "remove"], ["demo"]],
    ids=" ".join,
)
def test_help_reads_as_a_person_expects(command: list[str]) -> None:
    """Flags read as flags (no `<bool>`), and every option says what it is for."""
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output and "BOOLEAN" not in result.output
    options = [line.strip() for line in result.output.splitlines() if line.startswith("  --")]
    assert options
    for line in options:  # "--name METAVAR  description"
        assert re.search(r"\S {2,}\S", line), line


#: the only commands that open the registry's database (docs/spec.md §11.7): the first authority
#: admin's bootstrap, the server, the anchoring worker, and `dev` (make run: all of them)
DATABASE_COMMANDS = {"authority init", "serve", "anchor", "dev"}
_OPENS_THE_DATABASE = re.compile(r"\b(_stack|Stack|Storage|RegistryService|make_engine)\(")


def _commands(group: Any, prefix: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if hasattr(command, "commands"):
            found |= _commands(command, path + " ")
        else:
            found[path] = command.callback
    return found


def test_only_the_servers_and_the_bootstrap_open_the_database() -> None:
    """Everything else — the authority's statements, a CB's keys and certificates, verifying,
    auditing, trust — goes through the API or the chain, so it runs anywhere, with no database
    file at hand."""
    commands = _commands(typer.main.get_command(app))
    assert {"authority approve-key", "issue", "signing-key propose", "verify"} <= set(commands)
    opening = {
        name
        for name, callback in commands.items()
        if _OPENS_THE_DATABASE.search(inspect.getsource(callback))
    }
    assert opening <= DATABASE_COMMANDS, opening - DATABASE_COMMANDS
    assert {"authority init", "serve", "anchor"} <= opening
