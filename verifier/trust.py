"""The verifier's trust store: which registries it believes, pinned once, never fetched again.

"Trust roots are pinned, not fetched" (docs/spec.md §9.1, §10): a registry's origin,
checkpoint-signing key (vkey), chain id and anchoring contract come from this store, like SSH's
known_hosts.
`certreg trust add URL` fetches `GET /v1/registry` once (`fetch_identity`), shows the key's
fingerprint and pins it; `certreg trust import FILE` takes an entry the authority publishes
(`load_entry_file`). A registry that later answers another vkey or contract for a pinned origin
is refused (`TrustConflictError`, naming both fingerprints). A registry URL is never, by itself,
a source of trust: an entry's `registry_url` is only where fresh status proofs are fetched from.

Where the store lives: `$CERTREG_TRUST_FILE` if set, else `$XDG_CONFIG_HOME/certreg/trust.json`
(`XDG_CONFIG_HOME` defaults to `~/.config`; a relative value is ignored, as the XDG spec says).
A missing file is an empty store.

The store file (`certreg-trust/1`), UTF-8 JSON, written atomically with mode 0600::

    {
      "format": "certreg-trust/1",
      "entries": [
        {
          "version": 1,
          "origin": "registry.example/log",
          "vkey": "registry.example/log+1a2b3c4d+AX...=",
          "chain_id": 31337,
          "contract": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
          "rpc": ["https://rpc-a.example", "https://rpc-b.example"],
          "registry_url": "https://registry.example",
          "added_at": "2025-01-31T12:00:00Z",
          "authority_vkey": null
        }
      ]
    }

Entry fields (every field is checked; unknown fields are refused):

- `version` — 1. Later versions may add fields (the authority's key, a successor contract signed
  by the authority); a version-1 entry keeps its meaning forever.
- `origin` — the registry's log origin; equals the name part of `vkey`. At most one entry per
  origin.
- `vkey` — the C2SP verifier key `<name>+<8 hex key id>+<base64(0x01 ‖ Ed25519 public key)>`
  of the checkpoint-signing key.
- `chain_id` — the EVM chain id (an integer >= 1).
- `contract` — the anchoring contract, EIP-55 checksummed (a lowercase address is normalised, a
  mixed-case one with a wrong checksum refused).
- `rpc` — zero or more JSON-RPC endpoints (http or https URLs), in the order given, without
  duplicates. With none, a verdict can only be `UNCONFIRMED`. With several, the chain facts a
  verdict uses must agree across them.
- `registry_url` — the default place to fetch fresh status proofs from (http or https, without a
  trailing slash), or null. Never a source of trust.
- `added_at` — when the entry was pinned in this store: RFC 3339 UTC, whole seconds
  (`YYYY-MM-DDTHH:MM:SSZ`).
- `authority_vkey` — optional (null when absent): the C2SP verifier key of the accreditation
  authority, set by `certreg trust import` of an authority-published entry or by `certreg trust
  add --authority-vkey` (given out of band; the registry must check statements with the same
  key). `certreg audit` then checks every authority statement in the log is signed with it.

The fingerprint of an entry's key, as `certreg trust` prints it and `--expect-fingerprint` takes
it: `SHA256:` followed by the unpadded standard base64 of SHA-256 over the vkey's key bytes
(0x01 ‖ the 32-byte public key, i.e. the third part of the vkey, base64-decoded), like SSH's.

The entry file an authority publishes (`certreg-trust-entry/1`), UTF-8 JSON::

    {
      "format": "certreg-trust-entry/1",
      "entry": { ...the entry fields above... }
    }

In an entry file `added_at` and `rpc` may be left out (`certreg trust import` stamps the import
time and appends the `--rpc` URLs it is given); `authority_vkey` names the publishing authority.
"""

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Self
from urllib.parse import urlsplit

import httpx2
from eth_utils.address import to_checksum_address
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from registry.core.encoding import format_timestamp, parse_b64, parse_timestamp
from registry.core.errors import CoreError
from registry.core.note import NoteVerifier
from verifier.errors import TrustConflictError, TrustError

__all__ = [
    "EMPTY_STORE_MESSAGE",
    "ENTRY_FILE_FORMAT",
    "STORE_FORMAT",
    "TRUST_FILE_ENV",
    "RegistryIdentity",
    "TrustEntry",
    "TrustStore",
    "check_url",
    "default_trust_path",
    "describe_validation_error",
    "fetch_identity",
    "fingerprint_of",
    "load_entry_file",
    "now_timestamp",
]

STORE_FORMAT: Final = "certreg-trust/1"
ENTRY_FILE_FORMAT: Final = "certreg-trust-entry/1"
TRUST_FILE_ENV: Final = "CERTREG_TRUST_FILE"
EMPTY_STORE_MESSAGE: Final = (
    "no registry is trusted yet: run 'certreg trust add https://REGISTRY --rpc https://RPC'"
)

_MAX_URL_LENGTH: Final = 2048
_MAX_FILE_SIZE: Final = 4 << 20  # a trust store or entry file; far above any real one
_MAX_IDENTITY_SIZE: Final = 64 << 10  # GET /v1/registry answers a few hundred bytes
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_UNSAFE_URL_CHARS = re.compile(r"[\x00-\x20\x7f]")


# ------------------------------------------------------------------------------------------------
# Field checks (shared by the entry, the fetched identity and the CLI)


def check_url(url: object, *, what: str = "URL") -> str:
    """An http(s) URL with a host, without a trailing slash; else `ValueError` ("got, want")."""
    if not isinstance(url, str):
        raise ValueError(f"{what}: got {type(url).__name__}, want an http:// or https:// URL")
    if len(url) > _MAX_URL_LENGTH:
        raise ValueError(f"{what}: got {len(url)} characters, want at most {_MAX_URL_LENGTH}")
    if _UNSAFE_URL_CHARS.search(url):
        raise ValueError(f"{what}: got {url!r:.120}, want a URL without spaces or controls")
    try:
        parts = urlsplit(url)
        _ = parts.port  # a malformed port raises here
    except ValueError as exc:
        raise ValueError(f"{what}: got {url!r:.120}, want a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what}: got {url!r:.120}, want an http:// or https:// URL with a host")
    if parts.fragment:
        raise ValueError(f"{what}: got {url!r:.120}, want a URL without a #fragment")
    return url.rstrip("/")


def _check_vkey(vkey: str) -> str:
    try:
        NoteVerifier.from_vkey(vkey)
    except CoreError as exc:  # NoteError: already "got …, want …"
        raise ValueError(str(exc)) from None
    return vkey


def _check_contract(address: str) -> str:
    if _ADDRESS.fullmatch(address) is None:
        raise ValueError(f"contract: got {address!r:.60}, want a 0x-prefixed 20-byte address")
    checksummed = to_checksum_address(address)
    mixed_case = address[2:] not in (address[2:].lower(), address[2:].upper())
    if mixed_case and address != checksummed:
        raise ValueError(f"contract: got {address}, want the EIP-55 checksum {checksummed}")
    return checksummed


def _check_timestamp(text: str) -> str:
    try:
        parse_timestamp(text, what="added_at")
    except CoreError as exc:
        raise ValueError(str(exc)) from None
    return text


def _check_version(version: object) -> object:
    if type(version) is int and version > 1:
        raise ValueError(f"version: got {version}, want 1 (written by a newer certreg: upgrade)")
    if type(version) is not int or version != 1:
        raise ValueError(f"version: got {version!r:.40}, want 1")
    return version


def _check_rpc_list(urls: list[str]) -> list[str]:
    checked = [check_url(url, what="rpc") for url in urls]
    return list(dict.fromkeys(checked))  # order kept, duplicates removed


def _check_registry_url(url: str | None) -> str | None:
    return None if url is None else check_url(url, what="registry_url")


Vkey = Annotated[str, AfterValidator(_check_vkey)]
Contract = Annotated[str, AfterValidator(_check_contract)]
ChainId = Annotated[int, Field(ge=1)]


def fingerprint_of(vkey: str) -> str:
    """`SHA256:` + unpadded base64 of SHA-256 of the vkey's key bytes (0x01 ‖ public key)."""
    NoteVerifier.from_vkey(vkey)  # checks the whole vkey first
    material = parse_b64(vkey.split("+", 2)[2], what="vkey key")
    digest = hashlib.sha256(material).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def now_timestamp() -> str:
    """The current time as the store writes it: `YYYY-MM-DDTHH:MM:SSZ`."""
    return format_timestamp(dt.datetime.now(dt.UTC).replace(microsecond=0))


def _check_origin_is_vkey_name(origin: str, vkey: str) -> None:
    name = vkey.split("+", 1)[0]
    if name != origin:
        raise ValueError(f"vkey name: got {name!r:.120}, want the origin {origin!r:.120}")


# ------------------------------------------------------------------------------------------------
# Models


class RegistryIdentity(BaseModel):
    """What `GET /v1/registry` answers, the part of it that gets pinned (other fields ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore", strict=True)

    origin: str
    vkey: Vkey
    chain_id: ChainId
    contract: Contract
    #: the authority key the registry checks statements with (base64), never pinned from here:
    #: `certreg trust add --authority-vkey` compares it with the key given out of band
    authority_key: str | None = None

    @model_validator(mode="after")
    def _vkey_names_origin(self) -> Self:
        _check_origin_is_vkey_name(self.origin, self.vkey)
        return self

    @property
    def fingerprint(self) -> str:
        """The vkey's fingerprint, `SHA256:…` (see the module docstring)."""
        return fingerprint_of(self.vkey)

    def to_entry(
        self,
        *,
        rpc: Sequence[str] = (),
        registry_url: str | None = None,
        added_at: str | None = None,
        authority_vkey: str | None = None,
    ) -> "TrustEntry":
        """The trust entry pinning this identity (`added_at` defaults to now)."""
        return TrustEntry(
            version=1,
            origin=self.origin,
            vkey=self.vkey,
            chain_id=self.chain_id,
            contract=self.contract,
            rpc=list(rpc),
            registry_url=registry_url,
            added_at=added_at if added_at is not None else now_timestamp(),
            authority_vkey=authority_vkey,
        )


class TrustEntry(BaseModel):
    """One pinned registry (fields and rules: see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    version: Annotated[Literal[1], BeforeValidator(_check_version)]
    origin: str
    vkey: Vkey
    chain_id: ChainId
    contract: Contract
    rpc: Annotated[list[str], AfterValidator(_check_rpc_list)] = Field(default_factory=list)
    registry_url: Annotated[str | None, AfterValidator(_check_registry_url)] = None
    added_at: Annotated[str, AfterValidator(_check_timestamp)] = Field(
        default_factory=now_timestamp
    )
    authority_vkey: Vkey | None = Field(
        default=None,
        description="The accreditation authority's C2SP vkey, set by `certreg trust import` of "
        "an authority-published entry or `certreg trust add --authority-vkey`.",
    )

    @model_validator(mode="after")
    def _vkey_names_origin(self) -> Self:
        _check_origin_is_vkey_name(self.origin, self.vkey)
        return self

    @property
    def fingerprint(self) -> str:
        """The vkey's fingerprint, `SHA256:…` (see the module docstring)."""
        return fingerprint_of(self.vkey)

    def authority_key(self) -> bytes | None:
        """The authority's raw Ed25519 public key, when the entry pins it (`authority_vkey`)."""
        if self.authority_vkey is None:
            return None
        return NoteVerifier.from_vkey(self.authority_vkey).public_key

    def note_verifier(self) -> NoteVerifier:
        """The checkpoint-signing key as a note verifier."""
        return NoteVerifier.from_vkey(self.vkey)

    def to_json(self) -> dict[str, Any]:
        """The entry as stored (JSON-ready)."""
        return self.model_dump(mode="json")


class _StoreFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    format: Literal["certreg-trust/1"]
    entries: list[TrustEntry]


class _EntryFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    format: Literal["certreg-trust-entry/1"]
    entry: TrustEntry


# ------------------------------------------------------------------------------------------------
# Error messages


def _location(loc: Iterable[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "document"


def describe_validation_error(exc: ValidationError) -> str:
    """The first problem of a pydantic error as one "where: got …, want …" line."""
    errors = exc.errors(include_url=False)
    if not errors:  # pragma: no cover (pydantic always reports at least one)
        return "got an invalid value"
    first = errors[0]
    where = _location(first["loc"])
    kind = first["type"]
    message = str(first["msg"])
    if kind == "missing":
        text = f"{where}: got nothing, want a value"
    elif kind == "extra_forbidden":
        text = f"{where}: got an unknown field, want none"
    elif kind == "value_error":  # our own checks: already "what: got …, want …"
        message = message.removeprefix("Value error, ")
        loc = list(first["loc"])
        if loc and isinstance(loc[-1], str) and message.startswith(loc[-1]):
            loc.pop()  # the message names its field itself
            text = f"{_location(loc)}.{message}" if loc else message
        else:
            text = f"{_location(loc)}: {message}" if loc else message
    else:
        want = message.removeprefix("Input should be ")
        got = repr(first.get("input"))
        got = got if len(got) <= 60 else got[:57] + "..."
        text = f"{where}: got {got}, want {want[0].lower() + want[1:] if want else 'another'}"
    more = len(errors) - 1
    text = " ".join(text.split())  # one line, whatever the input held
    return f"{text} (and {more} more problem{'s' if more > 1 else ''})" if more else text


# ------------------------------------------------------------------------------------------------
# The store


def default_trust_path() -> Path:
    """`$CERTREG_TRUST_FILE`, else `$XDG_CONFIG_HOME/certreg/trust.json` (default ~/.config)."""
    explicit = os.environ.get(TRUST_FILE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME")
    base = Path(config) if config and Path(config).is_absolute() else Path.home() / ".config"
    return base / "certreg" / "trust.json"


def _read_json(path: Path, *, what: str) -> Any:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_FILE_SIZE + 1)
    except IsADirectoryError:
        raise TrustError(f"{what} {path}: got a directory, want a JSON file") from None
    except OSError as exc:
        raise TrustError(f"{what} {path}: could not read it: {exc.strerror or exc}") from None
    if len(data) > _MAX_FILE_SIZE:
        raise TrustError(f"{what} {path}: got more than {_MAX_FILE_SIZE} bytes, want less")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise TrustError(
            f"{what} {path}: got invalid UTF-8 at byte {exc.start}, want JSON"
        ) from None
    except json.JSONDecodeError as exc:
        raise TrustError(
            f"{what} {path}: got invalid JSON ({exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}), want a JSON object"
        ) from None
    except RecursionError:
        raise TrustError(f"{what} {path}: got JSON nested too deeply, want a JSON object") from None


def _differences(old: TrustEntry, new: TrustEntry) -> list[str]:
    found = []
    if old.vkey != new.vkey:
        found.append(f"key: got {new.fingerprint}, want the pinned {old.fingerprint}")
    if old.contract != new.contract:
        found.append(f"contract: got {new.contract}, want the pinned {old.contract}")
    if old.chain_id != new.chain_id:
        found.append(f"chain id: got {new.chain_id}, want the pinned {old.chain_id}")
    if (
        old.authority_vkey is not None
        and new.authority_vkey is not None
        and old.authority_vkey != new.authority_vkey
    ):
        found.append(
            f"authority key: got {fingerprint_of(new.authority_vkey)}, want the pinned "
            f"{fingerprint_of(old.authority_vkey)}"
        )
    return found


def _merge(old: TrustEntry, new: TrustEntry) -> TrustEntry:
    """`old` with `new`'s RPCs added and its registry URL; a changed key or contract is refused."""
    differences = _differences(old, new)
    if differences:
        raise TrustConflictError(
            f"{new.origin} is pinned with other trust roots: {'; '.join(differences)}. "
            "Refusing: check out of band which is right; if the registry really changed its "
            f"key, run 'certreg trust remove {old.origin}' first"
        )
    return TrustEntry(
        version=old.version,
        origin=old.origin,
        vkey=old.vkey,
        chain_id=old.chain_id,
        contract=old.contract,
        rpc=[*old.rpc, *new.rpc],
        registry_url=new.registry_url if new.registry_url is not None else old.registry_url,
        added_at=old.added_at,
        authority_vkey=old.authority_vkey if old.authority_vkey is not None else new.authority_vkey,
    )


class TrustStore:
    """The pinned registries of one trust file, at most one entry per origin, in file order."""

    def __init__(self, path: Path, entries: Iterable[TrustEntry] = ()) -> None:
        self.path = path
        self._entries: dict[str, TrustEntry] = {}
        for entry in entries:
            if entry.origin in self._entries:
                raise TrustError(f"trust store {path}: got origin {entry.origin} twice, want once")
            self._entries[entry.origin] = entry

    @classmethod
    def load(cls, path: Path | None = None) -> "TrustStore":
        """Read the store at `path` (default: `default_trust_path()`); missing means empty."""
        path = default_trust_path() if path is None else path
        if not path.exists():
            return cls(path)
        data = _read_json(path, what="trust store")
        if not isinstance(data, dict):
            raise TrustError(
                f"trust store {path}: got a JSON {type(data).__name__}, want an object "
                f'{{"format": "{STORE_FORMAT}", "entries": [...]}}'
            )
        try:
            parsed = _StoreFile.model_validate(data)
        except ValidationError as exc:
            raise TrustError(f"trust store {path}: {describe_validation_error(exc)}") from None
        return cls(path, parsed.entries)

    @property
    def entries(self) -> tuple[TrustEntry, ...]:
        """Every entry, in the order they were added."""
        return tuple(self._entries.values())

    def get(self, origin: str) -> TrustEntry | None:
        """The entry for `origin`, if pinned."""
        return self._entries.get(origin)

    def select(self, origin: str | None) -> TrustEntry:
        """The entry a verification uses: the one for `origin`, or the only one if None."""
        if not self._entries:
            raise TrustError(EMPTY_STORE_MESSAGE)
        origins = ", ".join(self._entries)
        if origin is not None:
            entry = self._entries.get(origin)
            if entry is None:
                raise TrustError(
                    f"origin: got {origin!r:.120}, want a trusted one ({origins}); "
                    "run 'certreg trust add URL' to trust another registry"
                )
            return entry
        if len(self._entries) > 1:
            raise TrustError(
                f"{len(self._entries)} registries are trusted ({origins}): "
                "pass --origin to say which one"
            )
        return next(iter(self._entries.values()))

    def add(self, entry: TrustEntry) -> TrustEntry:
        """Pin `entry`, or merge it into the entry of its origin; return what is now stored.

        An entry of the same origin with another vkey, contract or chain id raises
        `TrustConflictError` naming both; with the same ones, the RPC lists are unioned (the
        pinned ones first) and the registry URL is updated.
        """
        old = self._entries.get(entry.origin)
        stored = entry if old is None else _merge(old, entry)
        self._entries[entry.origin] = stored
        return stored

    def remove(self, origin: str) -> TrustEntry:
        """Unpin `origin`; return the entry removed."""
        entry = self._entries.pop(origin, None)
        if entry is None:
            trusted = ", ".join(self._entries) or "none"
            raise TrustError(f"origin: got {origin!r:.120}, want a trusted one ({trusted})")
        return entry

    def to_json(self) -> dict[str, Any]:
        """The store file's content."""
        return {"format": STORE_FORMAT, "entries": [e.to_json() for e in self._entries.values()]}

    def save(self) -> None:
        """Write the store atomically (a temporary file beside it, then `os.replace`), mode 0600."""
        text = json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n"
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".tmp")
        except OSError as exc:
            raise TrustError(
                f"trust store {self.path}: could not write it: {exc.strerror or exc}"
            ) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o600)
            os.replace(temp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise TrustError(
                f"trust store {self.path}: could not write it: {exc.strerror or exc}"
            ) from None
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise


# ------------------------------------------------------------------------------------------------
# Fetching an identity, loading an entry file


def fetch_identity(
    url: str, *, client: httpx2.Client | None = None, timeout: float = 10
) -> RegistryIdentity:
    """GET `{url}/v1/registry` once and check the answer as hostile.

    Anything but a 200 JSON object with a well-formed `origin`, `vkey` (named after the
    origin), `chain_id` and `contract` raises `TrustError` with a one-line message.
    """
    try:
        base = check_url(url, what="registry URL")
    except ValueError as exc:
        raise TrustError(str(exc)) from None
    endpoint = base + "/v1/registry"
    not_registry = f"{base} does not look like a certreg registry: GET /v1/registry answered"
    owned = client is None
    http = httpx2.Client(timeout=timeout, follow_redirects=True) if client is None else client
    try:
        with http.stream("GET", endpoint, headers={"Accept": "application/json"}) as response:
            if response.status_code != 200:
                raise TrustError(f"{not_registry} HTTP {response.status_code}, want 200")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > _MAX_IDENTITY_SIZE:
                    raise TrustError(
                        f"{not_registry} more than {_MAX_IDENTITY_SIZE} bytes, want a small "
                        "JSON object"
                    )
    except httpx2.TimeoutException:
        raise TrustError(f"could not reach {base}: timed out after {timeout:g} s") from None
    except httpx2.TooManyRedirects:
        raise TrustError(f"could not reach {base}: too many redirects") from None
    except (httpx2.HTTPError, httpx2.InvalidURL, httpx2.StreamError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise TrustError(f"could not reach {base}: {reason}") from None
    finally:
        if owned:
            http.close()
    try:
        data = json.loads(bytes(body).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise TrustError(f"{not_registry} a body that is not JSON, want a JSON object") from None
    if not isinstance(data, dict):
        raise TrustError(f"{not_registry} a JSON {type(data).__name__}, want a JSON object")
    try:
        return RegistryIdentity.model_validate(data)
    except ValidationError as exc:
        raise TrustError(f"{not_registry} {describe_validation_error(exc)}") from None


def load_entry_file(path: Path) -> TrustEntry:
    """Read a `certreg-trust-entry/1` file an authority publishes (see the module docstring)."""
    data = _read_json(path, what="trust entry file")
    if not isinstance(data, dict):
        raise TrustError(
            f"trust entry file {path}: got a JSON {type(data).__name__}, want an object "
            f'{{"format": "{ENTRY_FILE_FORMAT}", "entry": {{...}}}}'
        )
    try:
        return _EntryFile.model_validate(data).entry
    except ValidationError as exc:
        raise TrustError(f"trust entry file {path}: {describe_validation_error(exc)}") from None
