"""The compact form of a bundle (docs/spec.md §8.3): deterministic CBOR that decodes back to
exactly the JSON bundle, and nothing else decodes."""

import base64
import copy
import json
import unicodedata
from typing import Any

import cbor2
import pytest

from registry.compact import (
    CompactFormError,
    claims_compact_bundle,
    decode_bundle,
    encode_bundle,
)
from registry.core.events import EventType
from registry.core.verify import VerdictStatus
from registry.samples import load_samples
from tests.bundles import World


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def _decomposed(text: str) -> bool:
    return text != unicodedata.normalize("NFC", text)


def _world() -> tuple[World, list[dict[str, Any]]]:
    """Bundles of every shape: anchored, suspended (a Vietnamese reason, typed decomposed),
    superseded and its replacement, NFD records, pending, unknown (both non-membership kinds),
    a v1 bundle."""
    world = World()
    samples = load_samples()["certificates"]
    ids = []
    for i in range(40):
        sample = samples[i % len(samples)]
        ids.append(world.issue(sample, number=f"{sample['number']}-{i}"))
    world.append(EventType.SUSPEND, ids[1], reason=unicodedata.normalize("NFD", "Tạm đình chỉ"))
    replacement = world.supersede(ids[2], samples[2], number=f"{samples[2]['number']}-new")
    world.checkpoint()
    pending = world.issue(samples[0], number="pending-1")
    bundles = [world.bundle(cid) for cid in [*ids, replacement]]
    bundles.append(world.pending_bundle(pending))
    bundles += [world.bundle("0x" + bytes([i]).hex() * 32) for i in range(12)]
    # The registry serves NFC; a bundle passed around may have been decomposed on the way, and
    # still verifies (hashes and signatures are over NFC): the compact form keeps it as it is.
    for bundle in bundles[:6]:
        nfd = copy.deepcopy(bundle)
        nfd["record"]["holder"]["name"] = _nfd(nfd["record"]["holder"]["name"])
        if "reason" in nfd["event"]:
            nfd["event"]["reason"] = unicodedata.normalize("NFD", nfd["event"]["reason"])
        bundles.append(nfd)
    v1 = copy.deepcopy(bundles[0])
    v1["format"] = "certreg-bundle/1"
    del v1["first_anchored_index"]
    bundles.append(v1)
    return world, bundles


WORLD, BUNDLES = _world()


def test_every_shape_is_there() -> None:
    assert {b["status"] for b in BUNDLES} == {"ANCHORED", "PENDING", "UNKNOWN"}
    unknown = [b["status_proof"] for b in BUNDLES if b["status"] == "UNKNOWN"]
    assert any("other_leaf" in p for p in unknown)
    assert any("other_leaf" not in p for p in unknown)
    assert any(
        b["status_proof"]
        and b["status_proof"]["leaf"]
        and b["status_proof"]["leaf"]["status"] == "superseded"
        for b in BUNDLES
    )


@pytest.mark.parametrize("index", range(len(BUNDLES)))
def test_round_trip_is_exact(index: int) -> None:
    bundle = BUNDLES[index]
    compact = encode_bundle(bundle)
    assert claims_compact_bundle(compact)
    decoded = decode_bundle(compact)
    assert decoded == bundle
    # the same JSON value, member for member and character for character (NFD stays NFD)
    assert json.dumps(decoded, sort_keys=True) == json.dumps(bundle, sort_keys=True)
    assert WORLD.verify(decoded).to_json() == WORLD.verify(bundle).to_json()


def test_nfd_text_travels_as_it_was() -> None:
    decomposed = [b for b in BUNDLES if b["record"] and _decomposed(b["record"]["holder"]["name"])]
    assert len(decomposed) == 6
    for bundle in decomposed:
        decoded = decode_bundle(encode_bundle(bundle))
        assert decoded["record"]["holder"]["name"] == bundle["record"]["holder"]["name"]
        assert WORLD.verify(decoded).status in (
            VerdictStatus.VALID,
            VerdictStatus.EXPIRED,
            VerdictStatus.SUSPENDED,
            VerdictStatus.SUPERSEDED,
        )
    suspended = next(b for b in decomposed if "reason" in b["event"])
    assert _decomposed(suspended["event"]["reason"])
    reason = decode_bundle(encode_bundle(suspended))["event"]["reason"]
    assert reason == _nfd("Tạm đình chỉ")
    assert WORLD.verify(suspended).status is VerdictStatus.SUSPENDED


def test_deterministic() -> None:
    bundle = BUNDLES[0]
    reordered = json.loads(json.dumps(dict(reversed(list(bundle.items())))))
    reordered["record"] = dict(reversed(list(bundle["record"].items())))
    assert reordered == bundle
    assert encode_bundle(reordered) == encode_bundle(bundle) == encode_bundle(copy.deepcopy(bundle))
    # and it is RFC 8949 §4.2.1's encoding of its value, as cbor2 writes it
    assert cbor2.dumps(cbor2.loads(encode_bundle(bundle)), canonical=True) == encode_bundle(bundle)


def test_hashes_and_keys_are_bytes_and_the_signed_objects_text() -> None:
    bundle = BUNDLES[0]
    item = cbor2.loads(encode_bundle(bundle))
    assert all(type(h) is bytes and len(h) == 32 for h in item["log_inclusion"]["hashes"])
    proof = item["status_proof"]
    assert {type(proof[k]) for k in ("key", "bitmap")} == {bytes}
    assert all(type(h) is bytes for h in proof["siblings"])
    assert type(proof["leaf"]["record_hash"]) is bytes
    assert type(item["checkpoint"]["log_root"]) is bytes
    assert type(item["anchor"]["tx_hash"]) is bytes
    assert type(item["anchor"]["contract"]) is str  # its EIP-55 letter case is part of it
    assert item["issuer_key"]["public_key"] == base64.b64decode(bundle["issuer_key"]["public_key"])
    assert item["event"] == bundle["event"] and item["record"] == bundle["record"]


def _map(pairs: list[tuple[bytes, bytes]]) -> bytes:
    """A CBOR map of already-encoded pairs, in the order given."""
    assert len(pairs) < 24
    return bytes([0xA0 + len(pairs)]) + b"".join(k + v for k, v in pairs)


def _pairs(value: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    item = cbor2.loads(encode_bundle(value))
    return [(cbor2.dumps(k), cbor2.dumps(v, canonical=True)) for k, v in item.items()]


def test_our_pairs_helper_rebuilds_the_encoding() -> None:
    pairs = _pairs(BUNDLES[0])
    assert _map(pairs) == encode_bundle(BUNDLES[0])


@pytest.mark.parametrize(
    "damage",
    [
        "trailing",
        "unsorted",
        "duplicate",
        "indefinite",
        "long_head",
        "tag",
        "float",
        "undefined",
        "bignum",
        "text_for_bytes",
        "bytes_for_text",
    ],
)
def test_refuses_every_other_encoding(damage: str) -> None:
    bundle = BUNDLES[0]
    good = encode_bundle(bundle)
    pairs = _pairs(bundle)
    index = {cbor2.loads(k): i for i, (k, _) in enumerate(pairs)}

    def replaced(member: str, value: bytes) -> bytes:
        changed = list(pairs)
        changed[index[member]] = (pairs[index[member]][0], value)
        return _map(changed)

    if damage == "trailing":
        data = good + b"\x00"
    elif damage == "unsorted":
        data = _map(list(reversed(pairs)))
    elif damage == "duplicate":
        data = _map([*pairs, pairs[index["status"]]])
    elif damage == "indefinite":
        data = b"\xbf" + good[1:] + b"\xff"
    elif damage == "long_head":  # first_anchored_index 0 as a one-byte-argument integer
        assert bundle["first_anchored_index"] == 0
        data = replaced("first_anchored_index", b"\x18\x00")
    elif damage == "tag":  # the checkpoint's index as an epoch-time tag
        data = replaced("first_anchored_index", b"\xc1\x00")
    elif damage == "float":
        data = replaced("first_anchored_index", b"\xf9\x00\x00")
    elif damage == "undefined":
        data = replaced("first_anchored_index", b"\xf7")
    elif damage == "bignum":
        data = replaced("first_anchored_index", b"\xc2\x41\x00")
    elif damage == "text_for_bytes":
        checkpoint = cbor2.loads(pairs[index["checkpoint"]][1])
        checkpoint["log_root"] = bundle["checkpoint"]["log_root"]
        data = replaced("checkpoint", cbor2.dumps(checkpoint, canonical=True))
    else:
        data = replaced("certificate_id", cbor2.dumps(b"\x00" * 32))
    assert data != good
    assert claims_compact_bundle(data)
    with pytest.raises(CompactFormError):
        decode_bundle(data)


def test_not_our_format() -> None:
    other = cbor2.dumps({"format": "other/1", "a": 1}, canonical=True)
    assert not claims_compact_bundle(other)
    with pytest.raises(CompactFormError, match="certreg-bundle"):
        decode_bundle(other)
    for data in (b"", b"\xff", json.dumps(BUNDLES[0]).encode(), b"%PDF-1.4", cbor2.dumps([1])):
        assert not claims_compact_bundle(data)
        with pytest.raises(CompactFormError):
            decode_bundle(data)


def test_the_encoder_refuses_what_it_cannot_carry() -> None:
    bundle = copy.deepcopy(BUNDLES[0])
    bundle["checkpoint"]["log_root"] = bundle["checkpoint"]["log_root"].upper()
    with pytest.raises(CompactFormError, match=r"checkpoint\.log_root"):
        encode_bundle(bundle)
    for bad in ({"format": "x"}, {**BUNDLES[0], "record": {"n": 1.5}}, {**BUNDLES[0], "x": 2**64}):
        with pytest.raises(CompactFormError):
            encode_bundle(bad)


def test_every_flipped_bit_is_refused_or_invalid() -> None:
    """A tampered byte anywhere: a decode error, or a bundle that verifies INVALID — never a
    verdict other than the genuine one's, never a crash."""
    bundle = BUNDLES[0]
    genuine = WORLD.verify(bundle).status
    assert genuine in (VerdictStatus.VALID, VerdictStatus.EXPIRED)
    good = encode_bundle(bundle)
    refused = invalid = 0
    for i in range(len(good)):
        data = good[:i] + bytes([good[i] ^ 0x01]) + good[i + 1 :]
        try:
            decoded = decode_bundle(data)
        except CompactFormError:
            refused += 1
            continue
        assert decoded != bundle
        assert WORLD.verify(decoded).status is VerdictStatus.INVALID, i
        invalid += 1
    assert refused and invalid
