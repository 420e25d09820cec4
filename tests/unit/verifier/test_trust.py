"""The trust store (`verifier.trust`): entries, the store file, identity fetch, entry files."""

import base64
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pydantic import ValidationError

from registry.core.note import NoteSigner, NoteVerifier
from verifier.errors import TrustConflictError, TrustError
from verifier.trust import (
    ENTRY_FILE_FORMAT,
    STORE_FORMAT,
    RegistryIdentity,
    TrustEntry,
    TrustStore,
    default_trust_path,
    fetch_identity,
    fingerprint_of,
    load_entry_file,
)

ORIGIN = "registry.test/log"
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
OTHER_CONTRACT = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
CHAIN_ID = 31337


def make_vkey(name: str = ORIGIN, seed: int = 1) -> str:
    """A C2SP verifier key for `name` from a fixed seed."""
    return NoteSigner.from_seed(name, bytes([seed]) * 32).verifier().vkey


def make_entry(**fields: Any) -> TrustEntry:
    values: dict[str, Any] = {
        "version": 1,
        "origin": ORIGIN,
        "vkey": make_vkey(),
        "chain_id": CHAIN_ID,
        "contract": CONTRACT,
        "rpc": ["http://127.0.0.1:8545"],
        "registry_url": "http://127.0.0.1:8000",
        "added_at": "2025-01-31T12:00:00Z",
    }
    return TrustEntry.model_validate(values | fields)


def identity_json(**fields: Any) -> dict[str, Any]:
    """What a registry's `GET /v1/registry` answers."""
    values: dict[str, Any] = {
        "origin": ORIGIN,
        "vkey": make_vkey(),
        "chain_id": CHAIN_ID,
        "contract": CONTRACT,
        "max_merge_delay_s": 60,
        "checkpoint_interval_s": 5.0,
        "log_size": 12,
    }
    return values | fields


class IdentityServer:
    """A real HTTP server on 127.0.0.1 (a free port) answering whatever the test sets."""

    def __init__(self) -> None:
        self.status = 200
        self.body = json.dumps(identity_json()).encode()
        self.delay = 0.0
        self.paths: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.paths.append(self.path)
                if owner.delay:
                    time.sleep(owner.delay)
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def answer(self, body: Any, status: int = 200) -> None:
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()

    def __enter__(self) -> "IdentityServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[IdentityServer]:
    with IdentityServer() as running:
        yield running


def closed_port_url() -> str:
    """The URL of a port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class TestEntry:
    def test_fingerprint_is_sha256_of_the_key_bytes_unpadded_base64(self) -> None:
        entry = make_entry()
        material = b"\x01" + entry.note_verifier().public_key
        digest = hashlib.sha256(material).digest()
        assert entry.fingerprint == "SHA256:" + base64.b64encode(digest).decode().rstrip("=")
        assert len(entry.fingerprint) == len("SHA256:") + 43
        assert entry.fingerprint == fingerprint_of(entry.vkey)
        assert make_entry(vkey=make_vkey(seed=2)).fingerprint != entry.fingerprint

    def test_note_verifier_is_the_vkey(self) -> None:
        entry = make_entry()
        assert entry.note_verifier() == NoteVerifier.from_vkey(entry.vkey)

    def test_contract_is_checksummed_rpc_deduplicated_urls_trimmed(self) -> None:
        entry = make_entry(
            contract=CONTRACT.lower(),
            rpc=["https://b.test/", "http://a.test", "https://b.test", "http://a.test"],
            registry_url="https://registry.test/",
        )
        assert entry.contract == CONTRACT
        assert entry.rpc == ["https://b.test", "http://a.test"]
        assert entry.registry_url == "https://registry.test"

    def test_defaults(self) -> None:
        entry = TrustEntry(
            version=1, origin=ORIGIN, vkey=make_vkey(), chain_id=1, contract=CONTRACT
        )
        assert entry.rpc == []
        assert entry.registry_url is None
        assert entry.authority_vkey is None
        assert len(entry.added_at) == 20 and entry.added_at.endswith("Z")

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"version": 2}, "version: got 2, want 1"),
            ({"version": True}, "version: got True, want 1"),
            ({"origin": "elsewhere.test/log"}, "vkey name: got 'registry.test/log', want the"),
            ({"vkey": "registry.test/log+00000000+AAAA"}, "vkey"),
            ({"chain_id": 0}, "chain_id: got 0"),
            ({"chain_id": "31337"}, "chain_id: got '31337'"),
            ({"contract": "0x1234"}, "contract: got '0x1234', want a 0x-prefixed 20-byte"),
            ({"contract": CONTRACT.replace("F", "f", 1)}, f"want the EIP-55 checksum {CONTRACT}"),
            ({"rpc": ["ftp://rpc.test"]}, "rpc: got 'ftp://rpc.test', want an http:// or https"),
            ({"rpc": "http://rpc.test"}, "rpc: got"),
            ({"registry_url": "registry.test"}, "registry_url: got 'registry.test'"),
            ({"added_at": "2025-01-31T12:00:00.5Z"}, "added_at: got"),
            ({"added_at": "2025-01-31T12:00:00+01:00"}, "want YYYY-MM-DDTHH:MM:SSZ"),
            ({"authority_vkey": "nope"}, "authority_vkey: vkey: got 'nope'"),
            ({"surprise": 1}, "surprise: got an unknown field, want none"),
        ],
    )
    def test_refuses(self, fields: dict[str, Any], message: str) -> None:
        from verifier.trust import describe_validation_error  # noqa: PLC0415

        with pytest.raises(ValidationError) as caught:
            make_entry(**fields)
        assert message in describe_validation_error(caught.value)

    def test_authority_vkey_is_kept(self) -> None:
        authority = make_vkey("authority.test", seed=9)
        assert make_entry(authority_vkey=authority).authority_vkey == authority


class TestPath:
    def test_env_file_wins(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setenv("CERTREG_TRUST_FILE", str(tmp_path / "mine.json"))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
        assert default_trust_path() == tmp_path / "mine.json"

    def test_xdg_config_home(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.delenv("CERTREG_TRUST_FILE", raising=False)
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
        assert default_trust_path() == tmp_path / "xdg" / "certreg" / "trust.json"

    @pytest.mark.parametrize("xdg", [None, "", "relative/dir"])
    def test_home_config_by_default(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, xdg: str | None
    ) -> None:
        monkeypatch.delenv("CERTREG_TRUST_FILE", raising=False)
        if xdg is None:
            monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
        else:
            monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
        monkeypatch.setenv("HOME", str(tmp_path))
        assert default_trust_path() == tmp_path / ".config" / "certreg" / "trust.json"

    def test_load_without_path_uses_the_env(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        path = tmp_path / "env.json"
        monkeypatch.setenv("CERTREG_TRUST_FILE", str(path))
        store = TrustStore.load()
        store.add(make_entry())
        store.save()
        assert path.exists()
        assert TrustStore.load().entries == (make_entry(),)


class TestStore:
    def test_missing_file_is_an_empty_store(self, tmp_path: Path) -> None:
        store = TrustStore.load(tmp_path / "none.json")
        assert store.entries == ()
        assert store.get(ORIGIN) is None
        assert not (tmp_path / "none.json").exists()

    def test_round_trip(self, tmp_path: Path) -> None:
        path = tmp_path / "deep" / "er" / "trust.json"
        store = TrustStore.load(path)
        first = make_entry()
        second = make_entry(
            origin="other.test/log",
            vkey=make_vkey("other.test/log", seed=3),
            rpc=[],
            registry_url=None,
            authority_vkey=make_vkey("authority.test", seed=9),
        )
        assert store.add(first) == first
        store.add(second)
        store.save()

        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["format"] == STORE_FORMAT == "certreg-trust/1"
        assert [e["origin"] for e in data["entries"]] == [ORIGIN, "other.test/log"]
        assert data["entries"][0] == {
            "version": 1,
            "origin": ORIGIN,
            "vkey": make_vkey(),
            "chain_id": CHAIN_ID,
            "contract": CONTRACT,
            "rpc": ["http://127.0.0.1:8545"],
            "registry_url": "http://127.0.0.1:8000",
            "added_at": "2025-01-31T12:00:00Z",
            "authority_vkey": None,
        }
        loaded = TrustStore.load(path)
        assert loaded.entries == (first, second)
        assert loaded.get("other.test/log") == second

    def test_save_is_atomic_private_and_leaves_no_temp_file(self, tmp_path: Path) -> None:
        path = tmp_path / "trust.json"
        store = TrustStore.load(path)
        store.add(make_entry())
        store.save()
        store.save()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["trust.json"]
        assert path.stat().st_mode & 0o777 == 0o600

    def test_failed_save_keeps_the_old_file_and_no_temp_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path = tmp_path / "trust.json"
        store = TrustStore.load(path)
        store.add(make_entry())
        store.save()
        before = path.read_bytes()

        def broken_replace(src: str, dst: str) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "replace", broken_replace)
        store.remove(ORIGIN)
        with pytest.raises(TrustError, match="could not write it: No space left on device"):
            store.save()
        assert path.read_bytes() == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["trust.json"]

    def test_unwritable_place_is_a_trust_error(self, tmp_path: Path) -> None:
        blocker = tmp_path / "file"
        blocker.write_text("x", encoding="utf-8")
        store = TrustStore(blocker / "trust.json", [make_entry()])
        with pytest.raises(TrustError, match="could not write it"):
            store.save()

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (b"{not json", "got invalid JSON (Expecting property name"),
            (b"\xff\xfe", "got invalid UTF-8"),
            (b"[]", "got a JSON list, want an object"),
            (b'{"format": "certreg-trust/2", "entries": []}', "format: got 'certreg-trust/2'"),
            (b'{"format": "certreg-trust/1"}', "entries: got nothing, want a value"),
            (b'{"format": "certreg-trust/1", "entries": [{}]}', "entries[0].version: got nothing"),
        ],
    )
    def test_corrupt_file_names_the_path_and_the_problem(
        self, tmp_path: Path, content: bytes, message: str
    ) -> None:
        path = tmp_path / "trust.json"
        path.write_bytes(content)
        with pytest.raises(TrustError) as caught:
            TrustStore.load(path)
        text = str(caught.value)
        assert text.startswith(f"trust store {path}: ")
        assert message in text
        assert "\n" not in text

    def test_corrupt_entry_says_which_field(self, tmp_path: Path) -> None:
        path = tmp_path / "trust.json"
        entry = make_entry().to_json() | {"chain_id": 0}
        path.write_text(json.dumps({"format": STORE_FORMAT, "entries": [entry]}), "utf-8")
        with pytest.raises(TrustError, match=r"entries\[0\]\.chain_id: got 0, want greater"):
            TrustStore.load(path)

    def test_one_origin_twice_is_corrupt(self, tmp_path: Path) -> None:
        path = tmp_path / "trust.json"
        entry = make_entry().to_json()
        path.write_text(json.dumps({"format": STORE_FORMAT, "entries": [entry, entry]}), "utf-8")
        with pytest.raises(TrustError, match=f"got origin {ORIGIN} twice, want once"):
            TrustStore.load(path)

    def test_a_directory_is_not_a_store(self, tmp_path: Path) -> None:
        with pytest.raises(TrustError, match="got a directory, want a JSON file"):
            TrustStore.load(tmp_path)


class TestSelect:
    def test_empty_store_says_what_to_run_in_one_line(self, tmp_path: Path) -> None:
        store = TrustStore.load(tmp_path / "trust.json")
        for origin in (None, ORIGIN):
            with pytest.raises(TrustError) as caught:
                store.select(origin)
            assert str(caught.value) == (
                "no registry is trusted yet: "
                "run 'certreg trust add https://REGISTRY --rpc https://RPC'"
            )

    def test_the_only_entry_or_the_named_one(self, tmp_path: Path) -> None:
        store = TrustStore(tmp_path / "trust.json", [make_entry()])
        assert store.select(None) == make_entry()
        assert store.select(ORIGIN) == make_entry()
        with pytest.raises(TrustError, match=f"origin: got 'nope', want a trusted one \\({ORIGIN}"):
            store.select("nope")

    def test_several_entries_need_an_origin(self, tmp_path: Path) -> None:
        other = make_entry(origin="other.test/log", vkey=make_vkey("other.test/log"))
        store = TrustStore(tmp_path / "trust.json", [make_entry(), other])
        with pytest.raises(TrustError) as caught:
            store.select(None)
        assert str(caught.value) == (
            f"2 registries are trusted ({ORIGIN}, other.test/log): pass --origin to say which one"
        )
        assert store.select("other.test/log") == other


class TestAdd:
    def test_another_vkey_is_refused_naming_both_fingerprints(self, tmp_path: Path) -> None:
        store = TrustStore(tmp_path / "trust.json", [make_entry()])
        impostor = make_entry(vkey=make_vkey(seed=7))
        with pytest.raises(TrustConflictError) as caught:
            store.add(impostor)
        message = str(caught.value)
        assert f"key: got {impostor.fingerprint}, want the pinned {make_entry().fingerprint}" in (
            message
        )
        assert "\n" not in message
        assert store.entries == (make_entry(),)

    def test_another_contract_is_refused_naming_both(self, tmp_path: Path) -> None:
        store = TrustStore(tmp_path / "trust.json", [make_entry()])
        with pytest.raises(TrustConflictError) as caught:
            store.add(make_entry(contract=OTHER_CONTRACT))
        assert CONTRACT in str(caught.value)
        assert OTHER_CONTRACT in str(caught.value)

    def test_another_chain_is_refused(self, tmp_path: Path) -> None:
        store = TrustStore(tmp_path / "trust.json", [make_entry()])
        with pytest.raises(TrustConflictError, match="chain id: got 1, want the pinned 31337"):
            store.add(make_entry(chain_id=1))

    def test_same_key_merges_rpcs_and_updates_the_registry_url(self, tmp_path: Path) -> None:
        store = TrustStore(tmp_path / "trust.json", [make_entry(rpc=["http://a.test"])])
        merged = store.add(
            make_entry(
                rpc=["http://b.test", "http://a.test", "http://c.test"],
                registry_url="https://mirror.test",
                added_at="2030-01-01T00:00:00Z",
            )
        )
        assert merged.rpc == ["http://a.test", "http://b.test", "http://c.test"]
        assert merged.registry_url == "https://mirror.test"
        assert merged.added_at == "2025-01-31T12:00:00Z"
        assert store.entries == (merged,)
        # a re-add without a registry URL keeps the pinned one
        assert store.add(make_entry(rpc=[], registry_url=None)).registry_url == (
            "https://mirror.test"
        )

    def test_remove(self, tmp_path: Path) -> None:
        store = TrustStore(tmp_path / "trust.json", [make_entry()])
        assert store.remove(ORIGIN) == make_entry()
        assert store.entries == ()
        with pytest.raises(TrustError, match=r"origin: got 'registry.test/log', want a trusted"):
            store.remove(ORIGIN)


class TestFetchIdentity:
    def test_a_good_identity(self, server: IdentityServer) -> None:
        identity = fetch_identity(server.url + "/")
        assert identity == RegistryIdentity(
            origin=ORIGIN, vkey=make_vkey(), chain_id=CHAIN_ID, contract=CONTRACT
        )
        assert identity.fingerprint == make_entry().fingerprint
        assert server.paths == ["/v1/registry"]
        entry = identity.to_entry(rpc=["http://rpc.test"], registry_url=server.url)
        assert entry.origin == ORIGIN and entry.rpc == ["http://rpc.test"]

    def test_with_a_given_client(self, server: IdentityServer) -> None:
        with httpx2.Client(timeout=5) as client:
            assert fetch_identity(server.url, client=client).origin == ORIGIN

    @pytest.mark.parametrize(
        ("body", "status", "problem"),
        [
            ({"detail": "Method Not Allowed"}, 405, "answered HTTP 405, want 200"),
            (b"<html>hello</html>", 200, "answered a body that is not JSON, want a JSON object"),
            ([1, 2], 200, "answered a JSON list, want a JSON object"),
            (identity_json(vkey=make_vkey("evil.test/log")), 200, "vkey name: got 'evil.test/log'"),
            ({"origin": ORIGIN}, 200, "answered vkey: got nothing, want a value"),
            (identity_json(chain_id="31337"), 200, "chain_id: got '31337'"),
            (identity_json(contract="0xdead"), 200, "contract: got '0xdead'"),
            (b"[" * 10000 + b"]" * 10000, 200, "not JSON"),
            (b" " * (70 << 10), 200, "more than 65536 bytes"),
        ],
    )
    def test_a_hostile_answer_is_one_line(
        self, server: IdentityServer, body: Any, status: int, problem: str
    ) -> None:
        server.answer(body, status)
        with pytest.raises(TrustError) as caught:
            fetch_identity(server.url)
        message = str(caught.value)
        assert message.startswith(
            f"{server.url} does not look like a certreg registry: GET /v1/registry answered "
        )
        assert problem in message
        assert "\n" not in message

    def test_a_refused_connection(self) -> None:
        url = closed_port_url()
        with pytest.raises(TrustError) as caught:
            fetch_identity(url)
        assert str(caught.value).startswith(f"could not reach {url}: ")
        assert "refused" in str(caught.value).lower()

    def test_a_timeout(self, server: IdentityServer) -> None:
        server.delay = 1.0
        with pytest.raises(
            TrustError, match=f"could not reach {server.url}: timed out after 0.2 s"
        ):
            fetch_identity(server.url, timeout=0.2)

    @pytest.mark.parametrize("url", ["ftp://registry.test", "registry.test", "http://"])
    def test_not_an_http_url(self, url: str) -> None:
        with pytest.raises(TrustError, match="registry URL: got"):
            fetch_identity(url)


class TestEntryFile:
    def write(self, tmp_path: Path, data: Any) -> Path:
        path = tmp_path / "entry.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return path

    def test_loads_a_published_entry(self, tmp_path: Path) -> None:
        fields = make_entry().to_json()
        fields["authority_vkey"] = make_vkey("authority.test", seed=9)
        del fields["added_at"], fields["rpc"]
        path = self.write(tmp_path, {"format": ENTRY_FILE_FORMAT, "entry": fields})
        entry = load_entry_file(path)
        assert entry.origin == ORIGIN
        assert entry.rpc == []
        assert entry.authority_vkey == make_vkey("authority.test", seed=9)
        assert entry.fingerprint == make_entry().fingerprint

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"format": STORE_FORMAT, "entries": []}, "format: got 'certreg-trust/1'"),
            ({"format": ENTRY_FILE_FORMAT}, "entry: got nothing, want a value"),
            ({"format": ENTRY_FILE_FORMAT, "entry": {"version": 1}}, "entry.origin: got nothing"),
            ("text", "got a JSON str, want an object"),
        ],
    )
    def test_refuses_a_bad_file(self, tmp_path: Path, data: Any, message: str) -> None:
        path = self.write(tmp_path, data)
        with pytest.raises(TrustError) as caught:
            load_entry_file(path)
        assert str(caught.value).startswith(f"trust entry file {path}: ")
        assert message in str(caught.value)

    def test_a_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(TrustError, match="could not read it: No such file or directory"):
            load_entry_file(tmp_path / "absent.json")
