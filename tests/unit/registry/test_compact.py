"""The compact form of a bundle (docs/spec.md §8.3): deterministic CBOR that decodes back to
exactly the JSON bundle, and nothing else decodes."""

import base64
import copy
import json
import typing
import unicodedata
from typing import Any

import cbor2
import pytest
from pydantic import BaseModel

from registry.bundle import Bundle, StatusDocument
from registry.compact import (
    COMPACT_VERSION,
    LABELS,
    CompactFormError,
    claims_compact_bundle,
    decode_bundle,
    encode_bundle,
)
from registry.core.events import EventType
from registry.core.governance import Custody
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


def _label(*names: str) -> tuple[int, ...]:
    return tuple(LABELS[name] for name in names)


def _get(item: Any, *names: str) -> Any:
    for label in _label(*names):
        item = item[label]
    return item


def test_hashes_keys_and_signatures_are_bytes_and_the_record_text() -> None:
    bundle = BUNDLES[0]
    item = cbor2.loads(encode_bundle(bundle))
    assert item[0] == COMPACT_VERSION and item["format"] == bundle["format"]
    assert all(type(h) is bytes and len(h) == 32 for h in _get(item, "log_inclusion", "hashes"))
    proof = _get(item, "status_proof")
    assert type(_get(proof, "bitmap")) is bytes
    assert all(type(h) is bytes for h in _get(proof, "siblings"))
    assert type(_get(item, "anchor", "tx_hash")) is bytes
    assert type(_get(item, "anchor", "contract")) is str  # its EIP-55 letter case is part of it
    key = _get(item, "issuer_key", "public_key")
    assert key == base64.b64decode(bundle["issuer_key"]["public_key"])
    event = _get(item, "event")
    assert _get(event, "signature") == base64.b64decode(bundle["event"]["signature"])
    assert _get(event, "key_id") == bytes.fromhex(bundle["event"]["key_id"][2:])
    assert _get(event, "at") == bundle["event"]["at"]
    # the record is the issuer's document: its names and values travel as they are
    assert _get(item, "record") == bundle["record"]


def test_derivable_members_are_left_out() -> None:
    bundle = BUNDLES[0]
    item = cbor2.loads(encode_bundle(bundle))
    for path in (
        ("certificate_id",),
        ("first_anchored_index",),
        ("event", "certificate_id"),
        ("log_inclusion", "leaf_index"),
        ("log_inclusion", "tree_size"),
        ("status_proof", "key"),
        ("checkpoint", "tree_size"),
        ("checkpoint", "log_root"),
        ("checkpoint", "map_root"),
        ("issuer_key", "issuer_id"),
        ("issuer_key", "key_id"),
    ):
        assert _label(*path)[-1] not in _get(item, *path[:-1]), path
    leaf = _get(item, "status_proof", "leaf")
    assert set(leaf) == {LABELS["status"]}  # id, record hash and seq: the bundle's own
    # one byte for every member name
    assert all(-24 <= label <= 23 and label != 0 for label in LABELS.values())
    assert len(set(LABELS.values())) == len(LABELS)


def _model_names(model: type[BaseModel]) -> set[str]:
    names = set()
    for name, field in model.model_fields.items():
        names.add(name)
        for arg in (field.annotation, *typing.get_args(field.annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                names |= _model_names(arg)
    return names


def test_a_bundle_with_its_key_approval_and_admission_round_trips() -> None:
    """The authority's entries travel with labelled names (`custody`, the statement's own
    `format` and the like stay text) and their proofs' hashes as bytes; the bundle decodes to
    exactly itself and verifies alike (spec §8.3)."""
    world = World()
    sample = load_samples()["certificates"][0]
    world.admit(sample["issuer_id"])
    approval = world.approve_key(sample["issuer_id"], Custody.HOSTED)
    cid = world.issue(sample)
    world.checkpoint()
    bundle = world.bundle(cid)
    assert bundle["key_approval"]["entry"]["seq"] == approval.seq
    assert "admission" in bundle
    compact = encode_bundle(bundle)
    decoded = decode_bundle(compact)
    assert json.dumps(decoded, sort_keys=True) == json.dumps(bundle, sort_keys=True)
    verdict = world.verify(decoded)
    assert verdict.to_json() == world.verify(bundle).to_json()
    assert verdict.status is VerdictStatus.VALID, verdict.to_json()
    assert (verdict.key_custody, verdict.key_approval_seq) == ("hosted", approval.seq)
    item = cbor2.loads(compact)
    carried = _get(item, "key_approval")
    assert set(carried) == set(_label("entry", "log_inclusion"))
    assert all(type(h) is bytes for h in _get(carried, "log_inclusion", "hashes"))
    statement = _get(carried, "entry")["statement"]
    assert statement["custody"] == "hosted"
    assert statement[LABELS["key_id"]] == bundle["key_approval"]["entry"]["statement"]["key_id"]
    assert StatusDocument.model_validate(world.status_document(cid)).key_approval is not None


def test_a_bundle_with_an_authority_action_round_trips() -> None:
    """The authority's action on a certificate travels under label -22 like the other
    authority entries; the status leaf's `event_seq`, which names that entry rather than the
    event, is carried (nothing derives it), and the bundle decodes to exactly itself."""
    world = World()
    sample = load_samples()["certificates"][0]
    world.admit(sample["issuer_id"])
    world.approve_key(sample["issuer_id"])
    cid = world.issue(sample)
    world.withdraw_issuer(sample["issuer_id"])
    action = world.withdraw_certificate(cid, "Thu hồi theo quyết định của cơ quan")
    world.checkpoint()
    bundle = world.bundle(cid)
    assert bundle["authority_action"]["entry"]["seq"] == action.seq
    compact = encode_bundle(bundle)
    decoded = decode_bundle(compact)
    assert json.dumps(decoded, sort_keys=True) == json.dumps(bundle, sort_keys=True)
    verdict = world.verify(decoded)
    assert verdict.to_json() == world.verify(bundle).to_json()
    assert verdict.status is VerdictStatus.WITHDRAWN, verdict.to_json()
    assert verdict.authority_action_seq == action.seq
    item = cbor2.loads(compact)
    assert LABELS["authority_action"] == -22
    carried = _get(item, "authority_action")
    assert set(carried) == set(_label("entry", "log_inclusion"))
    assert all(type(h) is bytes for h in _get(carried, "log_inclusion", "hashes"))
    statement = _get(carried, "entry")["statement"]
    assert statement[LABELS["certificate_id"]] == cid
    assert statement[LABELS["record_hash"]] == bundle["event"]["record_hash"]  # text in an entry
    assert _get(item, "status_proof", "leaf", "event_seq") == action.seq
    assert StatusDocument.model_validate(world.status_document(cid)).authority_action is not None
    assert Bundle.model_validate(bundle).authority_action is not None


def test_a_bundle_with_a_transfer_round_trips() -> None:
    """The authority's transfer of the certificate to the CB whose event the bundle carries
    travels under label -23 like the other authority entries (its `to_issuer_id` a text key),
    its proof's hashes as bytes; the bundle decodes to exactly itself and verifies alike."""
    world = World()
    samples = [c for c in load_samples()["certificates"] if c["kind"] == "regulation-conformity"]
    original, receiving = samples[0]["issuer_id"], samples[1]["issuer_id"]
    assert original != receiving
    world.admit(original)
    world.approve_key(original)
    cid = world.issue(samples[0])
    world.admit(receiving)
    world.approve_key(receiving)
    transfer = world.transfer_certificate(cid, receiving)
    world.append(EventType.SUSPEND, cid, reason="Tạm đình chỉ sau chuyển giao")
    world.checkpoint()
    bundle = world.bundle(cid)
    assert bundle["transfer"]["entry"]["seq"] == transfer.seq
    compact = encode_bundle(bundle)
    decoded = decode_bundle(compact)
    assert json.dumps(decoded, sort_keys=True) == json.dumps(bundle, sort_keys=True)
    verdict = world.verify(decoded)
    assert verdict.to_json() == world.verify(bundle).to_json()
    assert verdict.status is VerdictStatus.SUSPENDED, verdict.to_json()
    assert (verdict.transferred_from, verdict.transfer_seq) == (original, transfer.seq)
    item = cbor2.loads(compact)
    assert LABELS["transfer"] == -23
    assert -24 not in LABELS.values()
    carried = _get(item, "transfer")
    assert set(carried) == set(_label("entry", "log_inclusion"))
    assert all(type(h) is bytes for h in _get(carried, "log_inclusion", "hashes"))
    statement = _get(carried, "entry")["statement"]
    assert statement["to_issuer_id"] == receiving
    assert statement[LABELS["certificate_id"]] == cid
    assert StatusDocument.model_validate(world.status_document(cid)).transfer is not None
    assert Bundle.model_validate(bundle).transfer is not None


def test_every_member_name_of_the_models_has_a_label() -> None:
    event_names = set(BUNDLES[0]["event"]) | {"reason", "supersedes", "admission_seq", "version"}
    names = (_model_names(Bundle) | _model_names(StatusDocument) | event_names) - {"format"}
    assert names == set(LABELS)


@pytest.mark.parametrize(
    "change",
    ["differs", "absent", "absent_note", "not_text", "record_without_id", "other_leaf_absent"],
)
def test_a_damaged_bundle_travels_as_it_is(change: str) -> None:
    """Derivation leaves a member out only when it is what the rest gives: a bundle that
    differs, or lacks a member, decodes to exactly itself (and verifies as itself)."""
    bundle = copy.deepcopy(BUNDLES[0])
    if change == "differs":
        bundle["status_proof"]["leaf"]["record_hash"] = "0x" + "ab" * 32
        bundle["log_inclusion"]["tree_size"] += 1
    elif change == "absent":
        del bundle["status_proof"]["key"]
        del bundle["checkpoint"]["log_root"]
        del bundle["certificate_id"]
    elif change == "absent_note":  # nothing derives the roots: they are carried
        del bundle["checkpoint"]["note"]
    elif change == "not_text":
        bundle["checkpoint"]["note"] = 7
        bundle["record"]["id"] = {"not": "an id"}
    elif change == "record_without_id":
        del bundle["record"]["id"]
    else:
        bundle["status_proof"]["other_leaf"] = None
    decoded = decode_bundle(encode_bundle(bundle))
    assert json.dumps(decoded, sort_keys=True) == json.dumps(bundle, sort_keys=True)
    assert WORLD.verify(decoded).to_json() == WORLD.verify(bundle).to_json()
    assert WORLD.verify(bundle).status is VerdictStatus.INVALID


def _item(bundle: dict[str, Any]) -> dict[Any, Any]:
    return cbor2.loads(encode_bundle(bundle))  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "damage",
    [
        "derived_carried",
        "undefined_underivable",
        "undefined_elsewhere",
        "unknown_label",
        "name_for_label",
        "label_in_record",
        "version_3",
        "version_text",
        "label_in_version_1",
    ],
)
def test_refuses_what_version_2_never_writes(damage: str) -> None:
    bundle = BUNDLES[0]
    item = _item(bundle)
    if damage == "derived_carried":
        _get(item, "checkpoint")[LABELS["tree_size"]] = bundle["checkpoint"]["tree_size"]
    elif damage == "undefined_underivable":
        del _get(item, "checkpoint")[LABELS["note"]]
        _get(item, "checkpoint")[LABELS["tree_size"]] = cbor2.undefined
    elif damage == "undefined_elsewhere":
        _get(item, "anchor")[LABELS["chain_id"]] = cbor2.undefined
    elif damage == "unknown_label":
        unused = next(n for n in range(-24, 24) if n != 0 and n not in LABELS.values())
        _get(item, "anchor")[unused] = 1
    elif damage == "name_for_label":
        anchor = _get(item, "anchor")
        anchor["chain_id"] = anchor.pop(LABELS["chain_id"])
    elif damage == "label_in_record":
        record = _get(item, "record")
        record[LABELS["status"]] = record.pop("kind")
    elif damage == "version_3":
        item[0] = 3
    elif damage == "version_text":
        item[0] = "2"
    else:
        del item[0]
    data = cbor2.dumps(item, canonical=True)
    assert claims_compact_bundle(data)
    with pytest.raises(CompactFormError):
        decode_bundle(data)


def _v1(value: Any, schema: Any = None, top: bool = True) -> Any:
    """A bundle in the compact form's version 1 mapping (text names, nothing left out, only the
    proofs' hashes and the issuer key as bytes), written independently of the module."""
    hexes = {"hashes", "key", "bitmap", "siblings", "record_hash", "value", "log_root"}
    hexes |= {"map_root", "tx_hash", "key_id"}
    if isinstance(value, dict):
        return {
            k: (
                v
                if top and k in ("record", "event")
                else _v1(v, k if k in hexes or k == "public_key" else schema, top=False)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_v1(v, schema, top=False) for v in value]
    if isinstance(value, str) and schema == "public_key":
        return base64.b64decode(value)
    if isinstance(value, str) and schema is not None:
        return bytes.fromhex(value[2:])
    return value


def test_version_1_files_still_decode() -> None:
    for bundle in BUNDLES:
        data = cbor2.dumps(_v1(bundle), canonical=True)
        assert claims_compact_bundle(data)
        assert decode_bundle(data) == bundle
        assert len(encode_bundle(bundle)) < len(data)


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

    def replaced(member: str | int, value: bytes) -> bytes:
        at = index[LABELS.get(member, member) if isinstance(member, str) else member]
        changed = list(pairs)
        changed[at] = (pairs[at][0], value)
        return _map(changed)

    if damage == "trailing":
        data = good + b"\x00"
    elif damage == "unsorted":
        data = _map(list(reversed(pairs)))
    elif damage == "duplicate":
        data = _map([*pairs, pairs[index[LABELS["status"]]]])
    elif damage == "indefinite":
        data = b"\xbf" + good[1:] + b"\xff"
    elif damage == "long_head":  # the version, 2, as a one-byte-argument integer
        data = replaced(0, b"\x18\x02")
    elif damage == "tag":  # the version as an epoch-time tag
        data = replaced(0, b"\xc1\x02")
    elif damage == "float":
        data = replaced(0, b"\xf9\x40\x00")
    elif damage == "undefined":
        data = replaced(0, b"\xf7")
    elif damage == "bignum":
        data = replaced(0, b"\xc2\x41\x02")
    elif damage == "text_for_bytes":
        proof = cbor2.loads(pairs[index[LABELS["status_proof"]]][1])
        proof[LABELS["bitmap"]] = bundle["status_proof"]["bitmap"]
        data = replaced("status_proof", cbor2.dumps(proof, canonical=True))
    else:
        data = replaced("status", cbor2.dumps(b"\x00" * 32))
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
