"""Errors of the pure core. All derive from `registry.errors.RegistryError`.

Messages follow "what: got X, want Y" so that a failed check says what it saw.
"""

from registry.errors import RegistryError


class CoreError(RegistryError):
    """Base class of errors raised by `registry.core`."""


class EncodingError(CoreError, ValueError):
    """A value is not in its canonical wire encoding (hex, base64, timestamp, date)."""


class CanonicalizationError(CoreError, ValueError):
    """A JSON value cannot be canonicalised (floats, non-string keys, key collisions...)."""


class ProofError(CoreError):
    """A Merkle proof does not verify, or is malformed."""


class InclusionProofError(ProofError):
    """A log inclusion proof does not verify."""


class ConsistencyProofError(ProofError):
    """A log consistency proof does not verify."""


class MapProofError(ProofError):
    """A status-map (sparse Merkle tree) proof does not verify."""


class NoteError(CoreError):
    """A signed note or checkpoint is malformed or carries no valid known signature."""


class SignatureError(CoreError):
    """A signature is malformed or does not verify."""


class LogTreeError(CoreError, ValueError):
    """A log tree request is out of range, or its stored tiles are inconsistent."""


class StatusMapError(CoreError, ValueError):
    """An invalid input to the status map: a key or value of the wrong size, an unknown status."""


class LifecycleError(CoreError, ValueError):
    """An event that cannot follow the log before it (e.g. superseding an unknown certificate)."""
