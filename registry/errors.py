"""The one error root of the `registry` package."""


class RegistryError(Exception):
    """Base class of every error raised by `registry` (core and service)."""


class ServiceError(RegistryError):
    """A request the registry refuses; the API maps each subclass to a problem type."""


class NotFoundError(ServiceError):
    """No such issuer, certificate or checkpoint."""


class ConflictError(ServiceError):
    """A different record under a certificate number that is already taken."""


class IllegalTransitionError(ServiceError):
    """A lifecycle change the certificate's state does not allow (e.g. reinstate withdrawn)."""


class ForbiddenError(ServiceError):
    """An issuer acting on another issuer's certificate, or on a kind it may not issue."""


class AuthenticationError(ServiceError):
    """A missing, malformed, unknown or revoked API key."""


class InvalidRequestError(ServiceError):
    """A request that is well-formed JSON but not acceptable (e.g. a batch too large)."""


class QuotaExceededError(ServiceError):
    """An issuer's daily issuance quota would be exceeded: nothing of the batch was issued."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RetryLaterError(RegistryError):
    """A read that met the registry moving under it too often (e.g. anchorings in quick
    succession): nothing is wrong with the request; the API answers 503 with Retry-After."""


class SettingsError(RegistryError, ValueError):
    """A setting that is missing or unusable; the message names it and says what to do."""
