import json
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from registry.core.checkpoint import verify_checkpoint
from registry.core.note import NoteVerifier

runner = CliRunner()


class TestDemo:
    def test_json_is_one_object_with_a_verifiable_checkpoint(self) -> None:
        result = runner.invoke(app, ["demo", "--json"])
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert out["certificates"] == 48
        assert out["events"] == 48 + 5
        verifier = NoteVerifier.from_vkey(out["registry_vkey"])
        checkpoint = verify_checkpoint(out["checkpoint"], verifier=verifier)
        assert checkpoint.tree_size == out["events"]
        assert out["proved"]["status"] == "withdrawn"

    def test_human_output_names_what_was_verified(self) -> None:
        result = runner.invoke(app, ["demo"])
        assert result.exit_code == 0, result.output
        assert "issuer_signature, log_inclusion, status_map_membership" in result.stdout
        assert "absence proved" in result.stdout


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.stdout


BAD_VKEY = "e2e.test/log+00000000+AW1IMiMUVXl+EnwGajtvBIBfSMwcl4rFuU7Kf7/8mWgv"


def test_verify_refuses_a_bad_vkey_without_a_traceback(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.json"
    bundle.write_text("{}", encoding="utf-8")
    result = runner.invoke(
        app, ["verify", str(bundle), "--vkey", BAD_VKEY, "--contract", "0x" + "11" * 20]
    )
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "certreg verify: vkey key id" in result.output


def test_audit_refuses_a_bad_vkey_without_a_traceback() -> None:
    result = runner.invoke(
        app,
        ["audit", "--rpc", "http://127.0.0.1:1", "--contract", "0x" + "11" * 20,
         "--registry", "http://127.0.0.1:1", "--vkey", BAD_VKEY],
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "certreg audit: vkey key id" in result.output
