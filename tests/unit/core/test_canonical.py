import hashlib
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from registry.core.canonical import canonical_hash, canonical_json, json_depth, normalize
from registry.core.errors import CanonicalizationError

SAMPLES = Path(__file__).resolve().parents[3] / "registry" / "data" / "sample_certificates.json"


def sample_certificates() -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads(SAMPLES.read_text(encoding="utf-8"))
    return list(data["certificates"])


def to_nfd(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFD", value)
    if isinstance(value, dict):
        return {to_nfd(k): to_nfd(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_nfd(v) for v in value]
    return value


class TestCanonicalJson:
    def test_sorts_keys_and_drops_whitespace(self) -> None:
        assert canonical_json({"b": 1, "a": [True, None, "x"]}) == b'{"a":[true,null,"x"],"b":1}'

    def test_rfc8785_key_order_is_by_utf16_code_units(self) -> None:
        # RFC 8785 §3.2.3: U+1F600 (UTF-16 D83D DE00) sorts before U+FF41, unlike by code point.
        assert canonical_json({"\uff41": 1, "\U0001f600": 2}) == (
            '{"\U0001f600":2,"\uff41":1}'.encode()
        )

    def test_vietnamese_nfc_and_nfd_give_identical_bytes(self) -> None:
        text = "Công ty TNHH Đồ chơi Trẻ em Bé Ngoan"
        nfd = unicodedata.normalize("NFD", text)
        assert nfd != text
        assert canonical_json({"name": nfd}) == canonical_json({"name": text})
        assert canonical_json({"name": text}).decode() == '{"name":"' + text + '"}'

    def test_every_sample_certificate_hashes_the_same_in_nfd(self) -> None:
        certificates = sample_certificates()
        assert len(certificates) >= 40
        decomposed = 0
        for certificate in certificates:
            nfd = to_nfd(certificate)
            decomposed += nfd != certificate
            assert canonical_hash(nfd) == canonical_hash(certificate)
        assert decomposed > 0

    def test_samples_ship_some_nfd_text(self) -> None:
        # The samples deliberately carry decomposed names; canonicalisation must fix them.
        raw = [c["holder"]["name"] for c in sample_certificates()]
        assert any(unicodedata.normalize("NFC", name) != name for name in raw)

    def test_keys_are_normalized_too(self) -> None:
        key = "tên"
        assert canonical_json({unicodedata.normalize("NFD", key): 1}) == canonical_json({key: 1})

    def test_hash_is_sha256_of_the_bytes(self) -> None:
        value = {"id": "x"}
        assert canonical_hash(value) == hashlib.sha256(b'{"id":"x"}').digest()

    def test_integers_at_the_limit(self) -> None:
        assert canonical_json(2**53 - 1) == b"9007199254740991"
        assert canonical_json(-(2**53 - 1)) == b"-9007199254740991"

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ({"a": 1.5}, r"\$\.a: got float 1\.5"),
            ({"a": float("nan")}, "got float nan"),
            ([float("inf")], r"\$\[0\]: got float inf"),
            ({"a": 2**53}, "want \\|n\\| <= 2\\^53 - 1"),
            ({1: "x"}, "got key 1 of type int"),
            ({"a": b"bytes"}, "got bytes"),
            ({"a": {1, 2}}, "got set"),
            ({"e\u0301": 1, "\u00e9": 2}, "two keys equal to"),
            ({"a": "\ud800"}, "JCS rejects"),
        ],
    )
    def test_rejects(self, value: object, message: str) -> None:
        with pytest.raises(CanonicalizationError, match=message):
            canonical_json(value)


class TestNormalize:
    def test_returns_plain_json(self) -> None:
        assert normalize(("a", ("b",))) == ["a", ["b"]]

    def test_leaves_bools_alone(self) -> None:
        assert normalize({"x": True}) == {"x": True}


class TestJsonDepth:
    @pytest.mark.parametrize(
        ("text", "depth"),
        [
            (b"1", 0),
            (b"{}", 1),
            (b'{"a":[1,[2]]}', 3),
            (b'{"a":"[[[{\\"","b":[]}', 2),  # brackets inside strings do not count
            (b"[" * 100_000, 100_000),
        ],
    )
    def test_counts_structure_outside_strings(self, text: bytes, depth: int) -> None:
        assert json_depth(text) == depth
