"""QR codes that point at a certificate's verification page (segno).

A QR code encodes `{public_base_url}/verify/{id}?d={digest}`, where the digest is the first 16
hex digits (64 bits) of the registered record's hash. The page compares `d` with the record
it finds under `id`: a printed certificate whose QR code was copied onto other text, or made
for another record, is told apart from the registered one. Sixty-four bits are plenty for
that (a forger would need 2^63 tries on average to hit a given digest with other text), and
keep the code small enough to scan from a product label.
"""

import io
import re
from typing import Final

import segno

__all__ = [
    "DIGEST_HEX_DIGITS",
    "digest",
    "group_digest",
    "parse_digest",
    "qr_code",
    "qr_png",
    "qr_svg",
    "verification_url",
]

DIGEST_HEX_DIGITS: Final = 16
_DIGEST = re.compile(r"[0-9a-f]{16}")


def digest(record_hash: bytes) -> str:
    """The short digest of a record hash: its first 16 lowercase hex digits."""
    if len(record_hash) != 32:
        raise ValueError(f"record hash: got {len(record_hash)} bytes, want 32")
    return record_hash.hex()[:DIGEST_HEX_DIGITS]


def group_digest(short: str) -> str:
    """`8fbd488f2e8033dc` → `8fbd 488f 2e80 33dc`, easy to compare by eye and read aloud."""
    return " ".join(short[i : i + 4] for i in range(0, len(short), 4))


def parse_digest(text: str) -> str | None:
    """A digest as typed or scanned (any case, spaces allowed), or None if it is not one."""
    cleaned = "".join(text.split()).lower()
    return cleaned if _DIGEST.fullmatch(cleaned) else None


def verification_url(base_url: str, certificate_id: str, record_hash: bytes) -> str:
    """The public page of `certificate_id`, with the record's short digest."""
    return f"{base_url.rstrip('/')}/verify/{certificate_id}?d={digest(record_hash)}"


def qr_code(url: str) -> segno.QRCode:
    """A QR code of `url` with error correction level M (raised if the size allows)."""
    return segno.make_qr(url, error="m", boost_error=True)


def qr_svg(url: str, *, title: str | None = None) -> bytes:
    """An SVG of the QR code: dark modules on white, a quiet zone of four modules."""
    out = io.BytesIO()
    qr_code(url).save(
        out,
        kind="svg",
        scale=4,
        border=4,
        dark="#000",
        light="#fff",
        xmldecl=False,
        svgclass=None,
        lineclass=None,
        title=title,
    )
    return out.getvalue()


def qr_png(url: str, *, scale: int = 8) -> bytes:
    """A PNG of the QR code, `scale` pixels a module, with a quiet zone of four modules."""
    out = io.BytesIO()
    qr_code(url).save(out, kind="png", scale=scale, border=4, dark="#000", light="#fff")
    return out.getvalue()
