"""The one error root of the `registry` package."""


class RegistryError(Exception):
    """Base class of every error raised by `registry` (core and service)."""
