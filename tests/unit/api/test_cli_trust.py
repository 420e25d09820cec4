"""`certreg trust …` through the real Typer app, against a real HTTP server on 127.0.0.1."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import api.cli_trust
from api.cli_trust import trust_app
from tests.unit.verifier.test_trust import (
    CONTRACT,
    ORIGIN,
    IdentityServer,
    closed_port_url,
    identity_json,
    make_entry,
    make_vkey,
)
from verifier.trust import ENTRY_FILE_FORMAT, TrustStore

runner = CliRunner()

app = typer.Typer()


@app.callback()
def _root() -> None:
    """The test's stand-in for `certreg`."""


app.add_typer(trust_app, name="trust")

RPC = "http://127.0.0.1:8545"
FINGERPRINT = make_entry().fingerprint


@pytest.fixture
def server() -> Iterator[IdentityServer]:
    with IdentityServer() as running:
        yield running


@pytest.fixture
def trust_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The trust file every command uses by default here (through CERTREG_TRUST_FILE)."""
    path = tmp_path / "config" / "trust.json"
    monkeypatch.setenv("CERTREG_TRUST_FILE", str(path))
    return path


def trust(*args: str, input: str | None = None) -> Any:
    return runner.invoke(app, ["trust", *args], input=input)


def assert_failed(result: Any, command: str, *fragments: str) -> None:
    """Exit 2 with one line on stderr, prefixed by the command, and no traceback."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("certreg ")]
    assert len(error_lines) == 1, result.stderr
    assert error_lines[0].startswith(f"certreg trust {command}: ")
    for fragment in fragments:
        assert fragment in error_lines[0]
    assert "Traceback" not in result.output


class TestAdd:
    def test_yes_pins_and_prints_the_identity(
        self, server: IdentityServer, trust_file: Path
    ) -> None:
        result = trust("add", server.url, "--rpc", RPC, "--yes")
        assert result.exit_code == 0, result.output
        for fragment in (ORIGIN, FINGERPRINT, "31337", CONTRACT, RPC, f"pinned {ORIGIN}"):
            assert fragment in result.stdout
        assert "warning" not in result.stderr
        store = TrustStore.load(trust_file)
        [entry] = store.entries
        assert entry.origin == ORIGIN
        assert entry.vkey == make_vkey()
        assert entry.rpc == [RPC]
        assert entry.registry_url == server.url
        assert server.paths == ["/v1/registry"]

    def test_json_is_one_object(self, server: IdentityServer, trust_file: Path) -> None:
        result = trust("add", server.url, "--rpc", RPC, "--yes", "--json")
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert out["pinned"] is True
        assert out["merged"] is False
        assert out["trust_file"] == str(trust_file)
        assert out["entry"]["fingerprint"] == FINGERPRINT
        assert out["entry"]["contract"] == CONTRACT

    def test_trust_file_option_overrides_the_default(
        self, server: IdentityServer, trust_file: Path, tmp_path: Path
    ) -> None:
        other = tmp_path / "elsewhere.json"
        result = trust("add", server.url, "--rpc", RPC, "--yes", "--trust-file", str(other))
        assert result.exit_code == 0, result.output
        assert TrustStore.load(other).get(ORIGIN) is not None
        assert not trust_file.exists()

    def test_without_rpc_warns_unconfirmed(self, server: IdentityServer, trust_file: Path) -> None:
        result = trust("add", server.url, "--yes")
        assert result.exit_code == 0, result.output
        assert "UNCONFIRMED" in result.stderr
        assert f"certreg trust add {server.url} --rpc" in result.stderr

    def test_matching_fingerprint_pins(self, server: IdentityServer, trust_file: Path) -> None:
        result = trust("add", server.url, "--rpc", RPC, "--expect-fingerprint", FINGERPRINT)
        assert result.exit_code == 0, result.output
        assert TrustStore.load(trust_file).get(ORIGIN) is not None

    def test_mismatching_fingerprint_refuses(
        self, server: IdentityServer, trust_file: Path
    ) -> None:
        wanted = make_entry(vkey=make_vkey(seed=5)).fingerprint
        result = trust("add", server.url, "--yes", "--expect-fingerprint", wanted)
        assert_failed(result, "add", FINGERPRINT, wanted)
        assert not trust_file.exists()

    def test_non_tty_without_yes_refuses(self, server: IdentityServer, trust_file: Path) -> None:
        result = trust("add", server.url, "--rpc", RPC)
        assert_failed(result, "add", "--yes", "--expect-fingerprint", FINGERPRINT)
        assert ORIGIN in result.stderr  # the identity was shown, to be checked
        assert not trust_file.exists()

    @pytest.mark.parametrize(("answer", "code"), [("y\n", 0), ("n\n", 2), ("", 2)])
    def test_a_terminal_is_asked(
        self,
        server: IdentityServer,
        trust_file: Path,
        monkeypatch: pytest.MonkeyPatch,
        answer: str,
        code: int,
    ) -> None:
        monkeypatch.setattr(api.cli_trust, "_stdin_is_tty", lambda: True)
        result = trust("add", server.url, "--rpc", RPC, input=answer)
        assert result.exit_code == code, result.output
        assert "Pin this registry? [y/N]" in result.output
        assert FINGERPRINT in result.stdout
        assert trust_file.exists() == (code == 0)

    def test_re_add_with_the_same_key_merges_rpcs(
        self, server: IdentityServer, trust_file: Path
    ) -> None:
        assert trust("add", server.url, "--yes").exit_code == 0
        result = trust("add", server.url, "--rpc", RPC, "--rpc", "https://rpc2.test", "--json")
        assert result.exit_code == 0, result.output  # already pinned: nothing new to trust
        assert json.loads(result.stdout)["merged"] is True
        [entry] = TrustStore.load(trust_file).entries
        assert entry.rpc == [RPC, "https://rpc2.test"]

    def test_another_key_for_a_pinned_origin_is_refused(
        self, server: IdentityServer, trust_file: Path
    ) -> None:
        assert trust("add", server.url, "--rpc", RPC, "--yes").exit_code == 0
        before = trust_file.read_bytes()
        server.answer(identity_json(vkey=make_vkey(seed=6)))
        result = trust("add", server.url, "--yes")
        impostor = make_entry(vkey=make_vkey(seed=6)).fingerprint
        assert_failed(result, "add", FINGERPRINT, impostor)
        assert trust_file.read_bytes() == before

    def test_not_a_registry(self, server: IdentityServer, trust_file: Path) -> None:
        server.answer({"detail": "Method Not Allowed"}, 405)
        result = trust("add", server.url, "--yes")
        assert_failed(result, "add", "does not look like a certreg registry", "HTTP 405")

    def test_unreachable(self, trust_file: Path) -> None:
        url = closed_port_url()
        assert_failed(trust("add", url, "--yes"), "add", f"could not reach {url}")

    def test_a_bad_rpc_url(self, server: IdentityServer, trust_file: Path) -> None:
        result = trust("add", server.url, "--rpc", "localhost:8545", "--yes")
        assert_failed(result, "add", "--rpc: got 'localhost:8545'")
        assert server.paths == []  # refused before any network access

    def test_a_corrupt_store(self, server: IdentityServer, trust_file: Path) -> None:
        trust_file.parent.mkdir(parents=True)
        trust_file.write_text("{", encoding="utf-8")
        result = trust("add", server.url, "--yes")
        assert_failed(result, "add", f"trust store {trust_file}: got invalid JSON")


class TestListRemove:
    def test_empty(self, trust_file: Path) -> None:
        result = trust("list")
        assert result.exit_code == 0, result.output
        assert "no registry is trusted yet" in result.stdout
        result = trust("list", "--json")
        assert json.loads(result.stdout) == {"trust_file": str(trust_file), "entries": []}

    def test_list_and_remove(self, trust_file: Path) -> None:
        other = make_entry(
            origin="other.test/log", vkey=make_vkey("other.test/log", seed=3), rpc=[]
        )
        store = TrustStore(trust_file, [make_entry(), other])
        store.save()

        result = trust("list")
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert len(lines) == 2
        assert lines[0].startswith(ORIGIN)
        for fragment in (FINGERPRINT, "chain 31337", CONTRACT, "1 RPC ", "http://127.0.0.1:8000"):
            assert fragment in lines[0]
        assert "0 RPCs" in lines[1]

        out = json.loads(trust("list", "--json").stdout)
        assert [e["origin"] for e in out["entries"]] == [ORIGIN, "other.test/log"]
        assert out["entries"][0]["fingerprint"] == FINGERPRINT

        result = trust("remove", ORIGIN)
        assert result.exit_code == 0, result.output
        assert f"removed {ORIGIN} ({FINGERPRINT})" in result.stdout
        assert [e.origin for e in TrustStore.load(trust_file).entries] == ["other.test/log"]

        result = trust("remove", "other.test/log", "--json")
        assert json.loads(result.stdout)["removed"] == "other.test/log"
        assert TrustStore.load(trust_file).entries == ()

    def test_remove_unknown(self, trust_file: Path) -> None:
        assert_failed(trust("remove", "nope.test/log"), "remove", "origin: got 'nope.test/log'")


class TestImport:
    def entry_file(self, tmp_path: Path, **fields: Any) -> Path:
        entry = make_entry(**fields).to_json()
        entry["authority_vkey"] = make_vkey("authority.test", seed=9)
        del entry["added_at"]
        path = tmp_path / "published.json"
        path.write_text(json.dumps({"format": ENTRY_FILE_FORMAT, "entry": entry}), "utf-8")
        return path

    def test_import_pins_with_extra_rpcs(self, tmp_path: Path, trust_file: Path) -> None:
        path = self.entry_file(tmp_path)
        result = trust("import", str(path), "--rpc", "https://rpc2.test", "--rpc", RPC)
        assert result.exit_code == 0, result.output
        assert FINGERPRINT in result.stdout
        assert f"pinned {ORIGIN}" in result.stdout
        [entry] = TrustStore.load(trust_file).entries
        assert entry.rpc == [RPC, "https://rpc2.test"]
        assert entry.authority_vkey == make_vkey("authority.test", seed=9)

    def test_import_json_and_merge(self, tmp_path: Path, trust_file: Path) -> None:
        TrustStore(trust_file, [make_entry(rpc=["https://mine.test"])]).save()
        result = trust("import", str(self.entry_file(tmp_path)), "--json")
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert out["merged"] is True
        assert out["entry"]["rpc"] == ["https://mine.test", RPC]

    def test_import_of_another_key_is_refused(self, tmp_path: Path, trust_file: Path) -> None:
        TrustStore(trust_file, [make_entry()]).save()
        path = self.entry_file(tmp_path, vkey=make_vkey(seed=8))
        result = trust("import", str(path))
        assert_failed(result, "import", FINGERPRINT, make_entry(vkey=make_vkey(seed=8)).fingerprint)

    def test_a_bad_entry_file(self, tmp_path: Path, trust_file: Path) -> None:
        path = tmp_path / "bad.json"
        path.write_text('{"format": "certreg-trust-entry/1", "entry": {}}', "utf-8")
        assert_failed(trust("import", str(path)), "import", f"trust entry file {path}")
        assert not trust_file.exists()


def test_help_describes_every_argument_and_option() -> None:
    for command in ("add", "import", "list", "remove"):
        result = trust(command, "--help")
        assert result.exit_code == 0, result.output
        assert "--trust-file" in result.stdout
        assert "--json" in result.stdout
    assert "--no-yes" not in trust("add", "--help").stdout
