"""Wire encodings of docs/spec.md §1, parsed strictly.

Every value has exactly one accepted spelling (lowercase `0x` hex, padded standard base64 with
zero pad bits, `YYYY-MM-DDTHH:MM:SSZ`, `YYYY-MM-DD`), so that flipping any character of an
encoded proof either changes the decoded value or is rejected — never silently accepted.
"""

import base64
import binascii
import datetime as dt
import functools
import re
import struct
from collections.abc import Iterable
from typing import Any

from registry.core.errors import EncodingError

__all__ = [
    "b64",
    "format_date",
    "format_timestamp",
    "hex0x",
    "parse_b64",
    "parse_date",
    "parse_hashes",
    "parse_hex",
    "parse_timestamp",
]

_HEX = re.compile(r"0x[0-9a-f]*")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def hex0x(data: bytes) -> str:
    """Encode bytes as lowercase hex with a `0x` prefix."""
    return "0x" + data.hex()


def parse_hex(text: str, *, size: int | None = 32, what: str = "hash") -> bytes:
    """Decode lowercase `0x` hex; `size` (bytes) is enforced unless None."""
    if (size == 32 or size is None) and type(text) is str and len(text) == 66 and text[:2] == "0x":
        # The common case, a 32-byte hash, without the regular expression (a bundle carries ~40):
        # `fromhex` also takes uppercase digits and spaces, but then the round trip differs, and
        # the slow path below decides. Accepts exactly what the pattern accepts.
        body = text[2:]
        try:
            data = bytes.fromhex(body)
        except ValueError:
            pass
        else:
            if data.hex() == body:
                return data
    if not isinstance(text, str) or _HEX.fullmatch(text) is None or len(text) % 2:
        raise EncodingError(f"{what}: got {text!r:.80}, want lowercase 0x-prefixed hex")
    data = bytes.fromhex(text[2:])
    if size is not None and len(data) != size:
        raise EncodingError(f"{what}: got {len(data)} bytes, want {size}")
    return data


def parse_hashes(
    texts: Iterable[Any], *, size: int | None = 32, what: str = "hashes"
) -> tuple[bytes, ...]:
    """`parse_hex` of each of `texts`; an error names the first bad one as `what[i]`.

    A list of 32-byte hashes (a proof: ~20 of them) is decoded in one pass of C calls: each text
    is 66 characters with `0x` at its start, the rest of all of them together decodes as hex,
    and the round trip gives back exactly that text (lowercase, no spaces) — what `parse_hex`
    accepts one by one. Anything else takes `parse_hex` text by text, which decides.
    """
    if (size == 32 or size is None) and type(texts) is list and texts:
        count = len(texts)
        try:
            joined = "".join(texts)
        except TypeError:  # not all strings
            joined = ""
        if (
            len(joined) == 66 * count
            and set(map(len, texts)) == {66}
            and joined[::66] == "0" * count
            and joined[1::66] == "x" * count
        ):
            body = joined.replace("0x", "")  # hex digits hold no "x": only the prefixes go
            try:
                data = bytes.fromhex(body)
            except ValueError:
                data = b""
            if len(data) == 32 * count and data.hex() == body:
                return _split_32(count, data)
    out = []
    for i, text in enumerate(texts):
        out.append(parse_hex(text, size=size, what=f"{what}[{i}]"))
    return tuple(out)


@functools.lru_cache(maxsize=64)
def _splitter(count: int) -> struct.Struct:
    return struct.Struct("32s" * count)


def _split_32(count: int, data: bytes) -> tuple[bytes, ...]:
    """`data` (32 × `count` bytes) as `count` 32-byte strings."""
    parts: tuple[bytes, ...] = _splitter(count).unpack(data)
    return parts


def b64(data: bytes) -> str:
    """Encode bytes as standard padded base64 (RFC 4648 §4)."""
    return base64.b64encode(data).decode("ascii")


def parse_b64(text: str, *, size: int | None = None, what: str = "base64 value") -> bytes:
    """Decode standard padded base64, rejecting every non-canonical spelling."""
    if not isinstance(text, str):
        raise EncodingError(f"{what}: got {type(text).__name__}, want a base64 string")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise EncodingError(f"{what}: got {text!r:.80}, want standard padded base64") from exc
    # Non-zero pad bits decode to the same bytes; re-encoding catches them.
    if b64(data) != text:
        raise EncodingError(f"{what}: got {text!r:.80}, want canonical base64 {b64(data)!r:.80}")
    if size is not None and len(data) != size:
        raise EncodingError(f"{what}: got {len(data)} bytes, want {size}")
    return data


def format_timestamp(moment: dt.datetime) -> str:
    """Format an aware datetime as `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds)."""
    if moment.tzinfo is None:
        raise EncodingError("timestamp: got a naive datetime, want an aware one")
    utc = moment.astimezone(dt.UTC)
    if utc.year < 1000:  # strftime's %Y does not pad these on every platform: keep its answer
        return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    # The same text as strftime, several times faster (every event is formatted when signed).
    date = f"{utc.year}-{utc.month:02d}-{utc.day:02d}"
    return f"{date}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"


def parse_timestamp(text: str, *, what: str = "timestamp") -> dt.datetime:
    """Parse exactly `YYYY-MM-DDTHH:MM:SSZ` into an aware UTC datetime."""
    if not isinstance(text, str) or _TIMESTAMP.fullmatch(text) is None:
        raise EncodingError(f"{what}: got {text!r:.40}, want YYYY-MM-DDTHH:MM:SSZ")
    try:
        if text.isascii():
            # The fields sit at fixed offsets (the pattern matched); `datetime` checks the ranges
            # exactly as strptime does, about 20 times faster (log entries carry a timestamp).
            return dt.datetime(
                int(text[0:4]),
                int(text[5:7]),
                int(text[8:10]),
                int(text[11:13]),
                int(text[14:16]),
                int(text[17:19]),
                tzinfo=dt.UTC,
            )
        # Other Unicode digits match `\d`: strptime decides, as it always has.
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise EncodingError(f"{what}: got {text!r}, want a real UTC date and time") from exc


def format_date(day: dt.date) -> str:
    """Format a date as `YYYY-MM-DD`."""
    return day.isoformat()


def parse_date(text: str, *, what: str = "date") -> dt.date:
    """Parse exactly `YYYY-MM-DD`."""
    if not isinstance(text, str) or _DATE.fullmatch(text) is None:
        raise EncodingError(f"{what}: got {text!r:.40}, want YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise EncodingError(f"{what}: got {text!r}, want a real calendar date") from exc
