"""Where an older bundle's fresh status comes from: a registry or mirror URL (any will do — the
status document is checked against the chain, not against who served it), or, inside the
registry's own API, its proof assembler."""

from typing import Any, Protocol

import httpx2

from verifier.errors import VerifierError

__all__ = ["HttpStatusSource", "RefreshError", "StatusSource"]

#: a status document is a few kilobytes; a source sending more is not one
_MAX_BYTES = 256 * 1024


class RefreshError(VerifierError):
    """No fresh status could be fetched: the verdict is STALE."""


class StatusSource(Protocol):
    """Fetches `GET /v1/certificates/{id}/status-proof` (docs/spec.md §8.2) from somewhere."""

    @property
    def name(self) -> str: ...

    def fetch(self, certificate_id: str) -> Any:
        """The status document as plain JSON; RefreshError if there is none."""
        ...


class HttpStatusSource:
    """A registry or mirror at `base_url`."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout_s

    @property
    def name(self) -> str:
        return self.base_url

    def fetch(self, certificate_id: str) -> Any:
        url = f"{self.base_url}/v1/certificates/{certificate_id}/status-proof"
        try:
            response = httpx2.get(url, timeout=self._timeout)
        except httpx2.HTTPError as exc:
            raise RefreshError(f"could not reach {self.base_url}: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise RefreshError(
                f"{self.base_url} answered HTTP {response.status_code} for the fresh status, "
                "want 200"
            )
        if len(response.content) > _MAX_BYTES:
            raise RefreshError(f"{self.base_url} sent {len(response.content)} bytes, want a status")
        try:
            return response.json()
        except ValueError as exc:
            raise RefreshError(f"{self.base_url} sent a fresh status that is not JSON") from exc
