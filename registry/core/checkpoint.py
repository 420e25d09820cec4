"""Checkpoints: C2SP tlog-checkpoint notes with one extension line carrying the map root.

Body (docs/spec.md §6.3), every line ending in a newline, exactly these four lines::

    <origin>
    <tree size, decimal, no leading zeros>
    <base64 of the 32-byte RFC 6962 log root>
    map-root <base64 of the 32-byte status-map root>

The body is signed as a C2SP signed note by the registry's key, whose name is the origin.
"""

import re
from dataclasses import dataclass
from typing import Final

from registry.core.encoding import b64, parse_b64
from registry.core.errors import EncodingError, NoteError
from registry.core.note import NoteSigner, NoteVerifier, is_valid_key_name, open_note, sign_note

__all__ = [
    "MAP_ROOT_PREFIX",
    "MAX_TREE_SIZE",
    "Checkpoint",
    "parse_checkpoint_body",
    "sign_checkpoint",
    "verify_checkpoint",
]

MAP_ROOT_PREFIX: Final = "map-root "
MAX_TREE_SIZE: Final = 2**64 - 1  # the anchoring contract stores sizes as uint64

_TREE_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")  # at most 20 digits: 2^64 - 1 has 20


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head of the log plus the status-map root at that size."""

    origin: str
    tree_size: int
    root_hash: bytes
    map_root: bytes

    def __post_init__(self) -> None:
        # The origin is also the name of the signing key, so it obeys the key-name rules.
        if not is_valid_key_name(self.origin):
            raise NoteError(
                f"checkpoint origin: got {self.origin!r:.80}, "
                "want a non-empty name without spaces, '+' or controls"
            )
        size = self.tree_size
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_TREE_SIZE:
            raise NoteError(f"checkpoint tree size: got {size!r:.40}, want 0 <= n <= 2^64 - 1")
        for what, value in (("root hash", self.root_hash), ("map root", self.map_root)):
            if not isinstance(value, bytes) or len(value) != 32:
                raise NoteError(f"checkpoint {what}: got {value!r:.80}, want 32 bytes")

    def body(self) -> str:
        """The note text that gets signed (four lines, each ending in a newline)."""
        return (
            f"{self.origin}\n{self.tree_size}\n{b64(self.root_hash)}\n"
            f"{MAP_ROOT_PREFIX}{b64(self.map_root)}\n"
        )


def _parse_root(text: str, *, what: str) -> bytes:
    try:
        return parse_b64(text, size=32, what=f"checkpoint {what}")
    except EncodingError as exc:
        raise NoteError(str(exc)) from exc


def parse_checkpoint_body(text: str) -> Checkpoint:
    """Parse a checkpoint body strictly: exactly the four lines of the module docstring.

    Every other spelling is refused (leading zeros, `+` signs, unpadded or non-canonical base64,
    a missing or additional line, a missing final newline), so a checkpoint has one text.
    """
    if not isinstance(text, str) or not text.endswith("\n"):
        raise NoteError(f"checkpoint: got {text!r:.80}, want four lines each ending in a newline")
    lines = text[:-1].split("\n")
    if len(lines) != 4:
        raise NoteError(f"checkpoint: got {len(lines)} lines, want 4 (origin, size, root, map)")
    origin, size_text, root_text, map_line = lines
    if not is_valid_key_name(origin):
        raise NoteError(
            f"checkpoint origin: got {origin!r:.80}, want a non-empty name without spaces or '+'"
        )
    if _TREE_SIZE.fullmatch(size_text) is None:
        raise NoteError(
            f"checkpoint tree size: got {size_text!r:.40}, want decimal without leading zeros"
        )
    root_hash = _parse_root(root_text, what="root hash")
    if not map_line.startswith(MAP_ROOT_PREFIX):
        raise NoteError(f"checkpoint line 4: got {map_line!r:.80}, want 'map-root <base64>'")
    map_root = _parse_root(map_line[len(MAP_ROOT_PREFIX) :], what="map root")
    # __post_init__ bounds the size to uint64.
    return Checkpoint(
        origin=origin, tree_size=int(size_text), root_hash=root_hash, map_root=map_root
    )


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    """The signed checkpoint note; the signer's key name must be the checkpoint's origin."""
    if signer.name != checkpoint.origin:
        raise NoteError(
            f"checkpoint signer name: got {signer.name!r}, want the origin {checkpoint.origin!r}"
        )
    return sign_note(checkpoint.body(), signer)


def verify_checkpoint(
    note: str | bytes, *, verifier: NoteVerifier, origin: str | None = None
) -> Checkpoint:
    """Open a checkpoint note with the registry's key and return the checkpoint it signs.

    Raises `NoteError` unless `verifier` signed the note, the body parses, the origin line
    equals the key name and, when given, the expected `origin`. Other signatures (witness
    cosignatures, rotated keys) are ignored, as C2SP requires.
    """
    opened = open_note(note, [verifier])
    checkpoint = parse_checkpoint_body(opened.text)
    if checkpoint.origin != verifier.name:
        raise NoteError(
            f"checkpoint origin: got {checkpoint.origin!r}, want the key name {verifier.name!r}"
        )
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"checkpoint origin: got {checkpoint.origin!r}, want {origin!r}")
    return checkpoint
