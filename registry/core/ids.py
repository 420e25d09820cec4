"""Identifiers derived from content (docs/spec.md §2a)."""

from registry.core.canonical import canonical_hash
from registry.core.encoding import hex0x

__all__ = ["certificate_id_for"]


def certificate_id_for(*, issuer_id: str, number: str) -> str:
    """A certificate's id: `0x`-hex of H(canonical({"issuer_id", "number"})).

    Deterministic, so a certificate number printed on paper names one id, and a number that was
    never issued gets a status-map non-membership proof.
    """
    return hex0x(canonical_hash({"issuer_id": issuer_id, "number": number}))
