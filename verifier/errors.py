"""The one error root of the `verifier` package."""

__all__ = ["InputError", "TrustConflictError", "TrustError", "VerifierError"]


class VerifierError(Exception):
    """Base class of every error raised by `verifier`."""


class TrustError(VerifierError):
    """The trust store is missing, unreadable, or has no entry that fits (exit code 2)."""


class TrustConflictError(TrustError):
    """A registry answers another key or contract for an origin that is already pinned."""


class InputError(VerifierError):
    """What was given to verify is not a certreg file at all (exit code 2)."""
