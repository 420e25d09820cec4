import datetime as dt

import pytest

from registry.core.encoding import (
    b64,
    format_timestamp,
    hex0x,
    parse_b64,
    parse_date,
    parse_hashes,
    parse_hex,
    parse_timestamp,
)
from registry.core.errors import EncodingError


class TestHex:
    def test_round_trip(self) -> None:
        data = bytes(range(32))
        assert parse_hex(hex0x(data)) == data

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "0x",
            "00" * 32,
            "0X" + "00" * 32,
            "0x" + "AB" * 32,
            "0x" + "00" * 31,
            "0x0" + "0" * 63 + "0",
        ],
    )
    def test_rejects_non_canonical(self, text: str) -> None:
        with pytest.raises(EncodingError):
            parse_hex(text)

    def test_size_none_accepts_any_length(self) -> None:
        assert parse_hex("0x0102", size=None) == b"\x01\x02"


HASHES = [hex0x(bytes([i]) * 32) for i in range(20)]


class TestHashLists:
    def test_same_as_one_by_one(self) -> None:
        assert parse_hashes(HASHES) == tuple(parse_hex(h) for h in HASHES)
        assert parse_hashes(HASHES, size=None) == tuple(parse_hex(h) for h in HASHES)
        assert parse_hashes([]) == ()

    @pytest.mark.parametrize(
        ("texts", "index"),
        [
            (["0x" + "00" * 32, "0X" + "00" * 32], 1),
            (["0x" + "AB" * 32], 0),
            (["0x" + "00" * 31 + " 0"], 0),
            (["0x" + "00" * 31 + "0 "], 0),
            ([None, "0x" + "00" * 32], 0),
            (["0x" + "00" * 32, 7], 1),
            # the same characters joined as two valid hashes, split elsewhere
            (["0x" + "00" * 32 + "0", "x" + "00" * 32], 0),
            (["0x" + "00" * 31 + "0", "0x" + "00" * 32 + "0"], 0),
            (["0x" + "00" * 30 + "0x00", "0x" + "00" * 32], 0),
            (["0x" + "0" * 64, "0x" + "0" * 62 + "xx"], 1),
        ],
    )
    def test_the_error_names_the_first_bad_one(self, texts: list[object], index: int) -> None:
        with pytest.raises(EncodingError, match=rf"^hashes\[{index}\]"):
            parse_hashes(texts, what="hashes")

    def test_size_none_accepts_other_lengths(self) -> None:
        assert parse_hashes(["0x0102", "0x" + "00" * 32], size=None) == (b"\x01\x02", b"\x00" * 32)
        with pytest.raises(EncodingError, match=r"^h\[0\]"):
            parse_hashes(["0x0102"], what="h")


class TestBase64:
    def test_round_trip(self) -> None:
        data = bytes(range(33))
        assert parse_b64(b64(data), size=33) == data

    @pytest.mark.parametrize("text", ["AAE", "AAE=\n", " AAE=", "AAF=", "AA-_", "AAE==", "é"])
    def test_rejects_non_canonical(self, text: str) -> None:
        with pytest.raises(EncodingError):
            parse_b64(text)

    def test_enforces_size(self) -> None:
        with pytest.raises(EncodingError, match="got 2 bytes, want 32"):
            parse_b64("AAE=", size=32)


class TestTimestamps:
    def test_round_trip(self) -> None:
        moment = dt.datetime(2026, 11, 25, 18, 52, 58, tzinfo=dt.UTC)
        assert parse_timestamp(format_timestamp(moment)) == moment

    def test_converts_to_utc(self) -> None:
        hanoi = dt.timezone(dt.timedelta(hours=7))
        moment = dt.datetime(2026, 1, 1, 7, 0, 0, 999, tzinfo=hanoi)
        assert format_timestamp(moment) == "2026-01-01T00:00:00Z"

    @pytest.mark.parametrize(
        "text",
        [
            "2026-11-25T18:52:58",
            "2026-11-25T18:52:58.1Z",
            "2026-11-25 18:52:58Z",
            "2026-02-30T00:00:00Z",
        ],
    )
    def test_rejects_other_spellings(self, text: str) -> None:
        with pytest.raises(EncodingError):
            parse_timestamp(text)

    def test_rejects_naive(self) -> None:
        with pytest.raises(EncodingError):
            format_timestamp(dt.datetime(2026, 1, 1))

    def test_date(self) -> None:
        assert parse_date("2027-02-26") == dt.date(2027, 2, 26)
        with pytest.raises(EncodingError):
            parse_date("2027-2-26")
