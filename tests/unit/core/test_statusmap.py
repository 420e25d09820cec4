"""The status map: key/value derivation, node rules, proofs, verification and the vectors."""

import hashlib
import importlib.util
import json
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from registry.core.canonical import canonical_json
from registry.core.encoding import hex0x, parse_hex
from registry.core.errors import MapProofError
from registry.core.statusmap import (
    EMPTY_HASH,
    STATUSES,
    MapNode,
    MapProof,
    MapStore,
    MemoryMapStore,
    StatusMap,
    StatusMapError,
    leaf_hash,
    map_key,
    node_position,
    root_from_map_proof,
    status_leaf,
    status_leaf_value,
    verify_map_proof,
)

VECTORS = Path(__file__).parents[2] / "vectors" / "statusmap"


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf(key: bytes, value: bytes) -> bytes:
    return sha(b"\x02" + key + value)


def node(left: bytes, right: bytes) -> bytes:
    return sha(b"\x03" + left + right)


def key_with_bits(*bits: int) -> bytes:
    """The key with exactly the given bits (MSB-first) set."""
    n = 0
    for bit in bits:
        n |= 1 << (255 - bit)
    return n.to_bytes(32, "big")


E = sha(b"\x04")
V1 = sha(b"value 1")
V2 = sha(b"value 2")
V3 = sha(b"value 3")
ZERO = bytes(32)
RECORD = sha(b"record")


def bitmap_of(*bits: int) -> bytes:
    return key_with_bits(*bits)


def built(*pairs: tuple[bytes, bytes]) -> StatusMap:
    smap = StatusMap()
    for key, value in pairs:
        smap.update(key=key, value=value)
    return smap


class TestMapKey:
    def test_is_sha256_of_utf8(self) -> None:
        assert map_key("cert-0") == sha(b"cert-0")

    def test_nfc_and_nfd_spellings_share_a_key(self) -> None:
        text = "Chứng nhận hợp quy"
        nfd = unicodedata.normalize("NFD", text)
        assert nfd != text
        assert map_key(nfd) == map_key(text) == sha(text.encode("utf-8"))

    @pytest.mark.parametrize("bad", ["", "\ud800", b"cert-0", None])
    def test_rejects_non_ids(self, bad: Any) -> None:
        with pytest.raises(StatusMapError, match="certificate_id"):
            map_key(bad)


class TestStatusLeaf:
    def test_fields(self) -> None:
        assert status_leaf(certificate_id="c", status="valid", record_hash=RECORD, event_seq=7) == {
            "certificate_id": "c",
            "status": "valid",
            "record_hash": hex0x(RECORD),
            "event_seq": 7,
        }

    def test_statuses_are_the_stored_lifecycle_states(self) -> None:
        assert frozenset({"valid", "suspended", "withdrawn", "superseded"}) == STATUSES

    @pytest.mark.parametrize(
        ("field", "bad", "match"),
        [
            ("status", "expired", "status: got 'expired'"),
            ("status", "VALID", "status"),
            ("certificate_id", "", "certificate_id"),
            ("record_hash", RECORD[:31], "record_hash"),
            ("record_hash", hex0x(RECORD), "record_hash"),
            ("event_seq", -1, "event_seq"),
            ("event_seq", 2**53, "event_seq"),
            ("event_seq", True, "event_seq"),
            ("event_seq", "1", "event_seq"),
        ],
    )
    def test_rejects(self, field: str, bad: Any, match: str) -> None:
        fields: dict[str, Any] = {
            "certificate_id": "c",
            "status": "valid",
            "record_hash": RECORD,
            "event_seq": 0,
        }
        fields[field] = bad
        with pytest.raises(StatusMapError, match=match):
            status_leaf(**fields)


class TestStatusLeafValue:
    def test_is_hash_of_canonical_leaf(self) -> None:
        value = status_leaf_value(
            certificate_id="cert-1", status="suspended", record_hash=RECORD, event_seq=3
        )
        text = (
            '{"certificate_id":"cert-1","event_seq":3,'
            f'"record_hash":"{hex0x(RECORD)}","status":"suspended"}}'
        )
        assert value == sha(text.encode("utf-8"))

    def test_every_field_matters(self) -> None:
        base: dict[str, Any] = {
            "certificate_id": "c",
            "status": "valid",
            "record_hash": RECORD,
            "event_seq": 0,
        }
        values = {status_leaf_value(**base)}
        for field, other in [
            ("certificate_id", "d"),
            ("status", "withdrawn"),
            ("record_hash", sha(b"other")),
            ("event_seq", 1),
        ]:
            values.add(status_leaf_value(**{**base, field: other}))
        assert len(values) == 5

    def test_rejects_unknown_status(self) -> None:
        with pytest.raises(StatusMapError):
            status_leaf_value(certificate_id="c", status="revoked", record_hash=RECORD, event_seq=0)


class TestLeafHash:
    def test_prefix_0x02(self) -> None:
        assert leaf_hash(key=ZERO, value=V1) == sha(b"\x02" + ZERO + V1)

    def test_empty_hash_is_h_0x04(self) -> None:
        assert E == EMPTY_HASH


class TestNodePosition:
    def test_root_is_one(self) -> None:
        assert node_position(sha(b"k"), 0) == 1

    def test_prefix_bits_under_a_one(self) -> None:
        key = key_with_bits(0, 2)  # 101000...
        assert [node_position(key, d) for d in range(5)] == [1, 0b11, 0b110, 0b1101, 0b11010]
        assert node_position(key, 256) == (1 << 256) | int.from_bytes(key, "big")

    @pytest.mark.parametrize("depth", [-1, 257])
    def test_rejects_depth(self, depth: int) -> None:
        with pytest.raises(StatusMapError, match="depth"):
            node_position(ZERO, depth)


class TestMapProofDepth:
    @pytest.mark.parametrize(
        ("bits", "depth"), [((), 0), ((0,), 1), ((3,), 4), ((0, 9, 4), 10), ((255,), 256)]
    )
    def test_highest_set_bit_plus_one(self, bits: tuple[int, ...], depth: int) -> None:
        proof = MapProof(bitmap=bitmap_of(*bits), siblings=tuple(V1 for _ in bits))
        assert proof.depth == depth


class TestMapProofToJson:
    def test_without_other_leaf_omits_the_field(self) -> None:
        proof = MapProof(bitmap=bitmap_of(1), siblings=(V1,))
        assert proof.to_json() == {"bitmap": hex0x(bitmap_of(1)), "siblings": [hex0x(V1)]}

    def test_with_other_leaf(self) -> None:
        proof = MapProof(bitmap=bytes(32), siblings=(), other_leaf=(ZERO, V2))
        assert proof.to_json()["other_leaf"] == {"key": hex0x(ZERO), "value": hex0x(V2)}


class TestMapProofFromJson:
    def test_round_trip(self) -> None:
        for proof in [
            MapProof(bitmap=bitmap_of(0, 7), siblings=(V1, V2)),
            MapProof(bitmap=bytes(32), siblings=(), other_leaf=(ZERO, V3)),
        ]:
            assert MapProof.from_json(json.loads(json.dumps(proof.to_json()))) == proof

    def test_keeps_wrong_sizes_for_the_verifier(self) -> None:
        proof = MapProof.from_json({"bitmap": "0x00", "siblings": ["0x01"]})
        assert proof == MapProof(bitmap=b"\x00", siblings=(b"\x01",))

    @pytest.mark.parametrize(
        "obj",
        [
            [],
            {"siblings": []},
            {"bitmap": "0x" + "00" * 32},
            {"bitmap": "0x" + "00" * 32, "siblings": [], "extra": 1},
            {"bitmap": "0x" + "00" * 32, "siblings": [], "other_leaf": None},
            {"bitmap": "0x" + "00" * 32, "siblings": [], "other_leaf": {"key": "0x00"}},
            {"bitmap": "0X" + "00" * 32, "siblings": []},
            {"bitmap": "0x" + "AA" * 32, "siblings": []},
            {"bitmap": "0x" + "00" * 32, "siblings": ["00" * 32]},
            {"bitmap": "0x" + "00" * 32, "siblings": "0x00"},
            {"bitmap": 0, "siblings": []},
        ],
    )
    def test_rejects_malformed(self, obj: Any) -> None:
        with pytest.raises(MapProofError):
            MapProof.from_json(obj)


class TestRootFromMapProof:
    def test_empty_map(self) -> None:
        proof = MapProof(bitmap=bytes(32), siblings=())
        assert root_from_map_proof(key=ZERO, value=None, proof=proof) == E

    def test_membership_climbs_with_key_bits(self) -> None:
        # Key 0100..: at depth 1 it is left of nothing (E) and right of S at depth 0.
        key = key_with_bits(1)
        sibling = sha(b"sibling")
        proof = MapProof(bitmap=bitmap_of(0), siblings=(sibling,))
        want = node(leaf(key, V1), sibling)  # bit 0 of the key is 0: the path is on the left
        assert root_from_map_proof(key=key, value=V1, proof=proof) == want

    def test_clear_bits_below_the_deepest_use_e(self) -> None:
        key = key_with_bits(0)  # 1000..: right at depth 0, left at 1 and 2
        s0, s2 = sha(b"s0"), sha(b"s2")
        proof = MapProof(bitmap=bitmap_of(0, 2), siblings=(s2, s0))
        at2 = node(leaf(key, V1), s2)
        at1 = node(at2, E)
        assert root_from_map_proof(key=key, value=V1, proof=proof) == node(s0, at1)

    def test_other_leaf_terminal(self) -> None:
        key, other = key_with_bits(255), ZERO
        proof = MapProof(bitmap=bytes(32), siblings=(), other_leaf=(other, V2))
        assert root_from_map_proof(key=key, value=None, proof=proof) == leaf(other, V2)


class TestVerifyMapProof:
    """Every rule of spec §5.4, one must-fail test each, on a small real map."""

    # k_a = 000.., k_b = 0010.. (share 2 bits), k_c = 1000..: k_a and k_b at depth 3, k_c at 1.
    KA, KB, KC = ZERO, key_with_bits(2), key_with_bits(0)
    ABSENT_EMPTY = key_with_bits(1)  # 01..: the subtree at depth 2 is empty
    ABSENT_OTHER = key_with_bits(0, 1)  # 11..: ends in k_c's leaf at depth 1

    @pytest.fixture
    def smap(self) -> StatusMap:
        return built((self.KA, V1), (self.KB, V2), (self.KC, V3))

    def test_known_root(self, smap: StatusMap) -> None:
        at2 = node(leaf(self.KA, V1), leaf(self.KB, V2))
        want = node(node(at2, E), leaf(self.KC, V3))
        assert smap.root_hash == want

    def test_accepts_all_three_kinds(self, smap: StatusMap) -> None:
        root = smap.root_hash
        for key, value in [(self.KA, V1), (self.KB, V2), (self.KC, V3)]:
            verify_map_proof(root_hash=root, key=key, value=value, proof=smap.prove(key))
        empty = smap.prove(self.ABSENT_EMPTY)
        assert empty.other_leaf is None
        assert empty.depth == 2
        verify_map_proof(root_hash=root, key=self.ABSENT_EMPTY, value=None, proof=empty)
        other = smap.prove(self.ABSENT_OTHER)
        assert other.other_leaf == (self.KC, V3)
        assert other.depth == 1
        verify_map_proof(root_hash=root, key=self.ABSENT_OTHER, value=None, proof=other)

    def check_fails(
        self,
        smap: StatusMap,
        match: str,
        *,
        key: bytes,
        value: bytes | None,
        proof: MapProof,
        root: bytes | None = None,
    ) -> None:
        with pytest.raises(MapProofError, match=match):
            verify_map_proof(
                root_hash=smap.root_hash if root is None else root,
                key=key,
                value=value,
                proof=proof,
            )

    def test_wrong_value(self, smap: StatusMap) -> None:
        proof = smap.prove(self.KA)
        self.check_fails(smap, "map root: got", key=self.KA, value=V2, proof=proof)

    def test_wrong_root(self, smap: StatusMap) -> None:
        proof = smap.prove(self.KA)
        self.check_fails(smap, "map root", key=self.KA, value=V1, proof=proof, root=E)

    def test_present_key_claimed_absent(self, smap: StatusMap) -> None:
        proof = smap.prove(self.KA)
        self.check_fails(smap, "non-membership proof", key=self.KA, value=None, proof=proof)

    def test_absent_key_claimed_present(self, smap: StatusMap) -> None:
        proof = smap.prove(self.ABSENT_EMPTY)
        self.check_fails(smap, "membership proof", key=self.ABSENT_EMPTY, value=V1, proof=proof)

    @pytest.mark.parametrize("size", [0, 31, 33])
    def test_bitmap_length(self, smap: StatusMap, size: int) -> None:
        proof = smap.prove(self.KA)
        bad = MapProof(bitmap=proof.bitmap[:size].ljust(size, b"\0"), siblings=proof.siblings)
        self.check_fails(smap, f"bitmap: got {size} bytes", key=self.KA, value=V1, proof=bad)

    @pytest.mark.parametrize("size", [31, 33])
    def test_sibling_length(self, smap: StatusMap, size: int) -> None:
        proof = smap.prove(self.KA)
        short = (proof.siblings[0] * 2)[:size]
        bad = MapProof(bitmap=proof.bitmap, siblings=(short, *proof.siblings[1:]))
        self.check_fails(smap, r"siblings\[0\]: got", key=self.KA, value=V1, proof=bad)

    @pytest.mark.parametrize("what", ["key", "value", "root_hash"])
    def test_input_lengths(self, smap: StatusMap, what: str) -> None:
        args: dict[str, Any] = {
            "root_hash": smap.root_hash,
            "key": self.KA,
            "value": V1,
            "proof": smap.prove(self.KA),
        }
        args[what] = args[what][:31]
        with pytest.raises(MapProofError, match=f"{what}: got 31 bytes, want 32"):
            verify_map_proof(**args)

    def test_sibling_not_bytes(self, smap: StatusMap) -> None:
        proof = smap.prove(self.KA)
        bad = MapProof(bitmap=proof.bitmap, siblings=(hex0x(V1), *proof.siblings[1:]))  # type: ignore[arg-type]
        self.check_fails(smap, "want 32 bytes", key=self.KA, value=V1, proof=bad)

    def test_fewer_siblings_than_popcount(self, smap: StatusMap) -> None:
        proof = smap.prove(self.KA)
        bad = MapProof(bitmap=proof.bitmap, siblings=proof.siblings[1:])
        self.check_fails(smap, "got 1 hashes, want 2", key=self.KA, value=V1, proof=bad)

    def test_more_siblings_than_popcount(self, smap: StatusMap) -> None:
        proof = smap.prove(self.KA)
        bad = MapProof(bitmap=proof.bitmap, siblings=(*proof.siblings, V3))
        self.check_fails(smap, "got 3 hashes, want 2", key=self.KA, value=V1, proof=bad)

    def test_explicit_empty_sibling(self, smap: StatusMap) -> None:
        proof = smap.prove(self.KA)  # bits 0 and 2 set; bit 1's sibling is empty
        bad = MapProof(
            bitmap=bitmap_of(0, 1, 2), siblings=(proof.siblings[0], E, proof.siblings[1])
        )
        self.check_fails(smap, "empty-subtree hash", key=self.KA, value=V1, proof=bad)

    def test_membership_with_other_leaf(self, smap: StatusMap) -> None:
        proof = smap.prove(self.KA)
        bad = MapProof(bitmap=proof.bitmap, siblings=proof.siblings, other_leaf=(self.KB, V2))
        self.check_fails(smap, "want none in a membership", key=self.KA, value=V1, proof=bad)

    def test_value_given_for_other_leaf_proof(self, smap: StatusMap) -> None:
        proof = smap.prove(self.ABSENT_OTHER)
        self.check_fails(
            smap, "want none in a membership", key=self.ABSENT_OTHER, value=V3, proof=proof
        )

    def test_other_leaf_equal_to_key(self, smap: StatusMap) -> None:
        proof = smap.prove(self.KA)
        bad = MapProof(bitmap=proof.bitmap, siblings=proof.siblings, other_leaf=(self.KA, V1))
        self.check_fails(smap, "got the proven key", key=self.KA, value=None, proof=bad)

    def test_other_leaf_off_the_path(self, smap: StatusMap) -> None:
        # A leaf that does hash to the depth-1 sibling, but lies in the other half of the tree.
        proof = smap.prove(self.ABSENT_OTHER)
        assert proof.other_leaf is not None
        bad = MapProof(
            bitmap=proof.bitmap,
            siblings=proof.siblings,
            other_leaf=(key_with_bits(1), proof.other_leaf[1]),
        )
        self.check_fails(
            smap, "sharing 0 leading bits", key=self.ABSENT_OTHER, value=None, proof=bad
        )

    @pytest.mark.parametrize(
        "other", [(ZERO[:31], V1), (ZERO, V1[:31]), (ZERO,), "0x00", (ZERO, hex0x(V1))]
    )
    def test_other_leaf_malformed(self, smap: StatusMap, other: Any) -> None:
        proof = smap.prove(self.ABSENT_OTHER)
        bad = MapProof(bitmap=proof.bitmap, siblings=proof.siblings, other_leaf=other)
        self.check_fails(smap, "other_leaf", key=self.ABSENT_OTHER, value=None, proof=bad)

    def test_other_leaf_dropped(self, smap: StatusMap) -> None:
        proof = smap.prove(self.ABSENT_OTHER)
        bad = MapProof(bitmap=proof.bitmap, siblings=proof.siblings)
        self.check_fails(smap, "map root", key=self.ABSENT_OTHER, value=None, proof=bad)

    def test_made_up_other_leaf(self, smap: StatusMap) -> None:
        proof = smap.prove(self.ABSENT_EMPTY)
        bad = MapProof(
            bitmap=proof.bitmap,
            siblings=proof.siblings,
            other_leaf=(key_with_bits(1, 255), V1),
        )
        self.check_fails(smap, "map root", key=self.ABSENT_EMPTY, value=None, proof=bad)

    def test_siblings_swapped(self, smap: StatusMap) -> None:
        proof = smap.prove(self.KA)
        bad = MapProof(bitmap=proof.bitmap, siblings=proof.siblings[::-1])
        self.check_fails(smap, "map root", key=self.KA, value=V1, proof=bad)

    def test_proof_of_another_key(self, smap: StatusMap) -> None:
        proof = smap.prove(self.KB)
        self.check_fails(smap, "map root", key=self.KA, value=V1, proof=proof)


class TestMemoryMapStore:
    def test_get_put(self) -> None:
        store = MemoryMapStore()
        assert store.get(1) is None
        store.put({1: V1, 2: (ZERO, V2)})
        assert store.get(1) == V1
        assert store.get(2) == (ZERO, V2)
        assert len(store) == 2
        assert list(store.leaves()) == [(ZERO, V2)]

    def test_is_a_map_store(self) -> None:
        store: MapStore = MemoryMapStore()
        assert StatusMap(store).store is store


class RecordingStore:
    """A `MapStore` written in Python, counting its writes."""

    def __init__(self) -> None:
        self.nodes: dict[int, MapNode] = {}
        self.puts = 0

    def get(self, position: int, /) -> MapNode | None:
        return self.nodes.get(position)

    def put(self, nodes: Mapping[int, MapNode], /) -> None:
        self.puts += 1
        self.nodes.update(nodes)


class TestStatusMapRootHash:
    def test_empty(self) -> None:
        assert StatusMap().root_hash == E

    def test_one_leaf_is_its_leaf_hash(self) -> None:
        assert built((ZERO, V1)).root_hash == leaf(ZERO, V1)

    def test_two_leaves_split_at_bit_0(self) -> None:
        right = key_with_bits(0)
        assert built((right, V2), (ZERO, V1)).root_hash == node(leaf(ZERO, V1), leaf(right, V2))

    def test_two_leaves_sharing_255_bits(self) -> None:
        last = key_with_bits(255)
        want = node(leaf(ZERO, V1), leaf(last, V2))
        for _ in range(255):  # every shallower node has the pair on its left, E on its right
            want = node(want, E)
        assert built((ZERO, V1), (last, V2)).root_hash == want


class TestStatusMapGet:
    def test_present_and_absent(self) -> None:
        smap = built((ZERO, V1), (key_with_bits(255), V2))
        assert smap.get(ZERO) == V1
        assert smap.get(key_with_bits(255)) == V2
        assert smap.get(key_with_bits(254)) is None
        assert smap.get(key_with_bits(0)) is None
        assert StatusMap().get(ZERO) is None

    def test_rejects_short_key(self) -> None:
        with pytest.raises(StatusMapError, match="key"):
            StatusMap().get(ZERO[:31])


class TestStatusMapUpdate:
    def test_overwrite_changes_root_and_value(self) -> None:
        smap = built((ZERO, V1), (key_with_bits(0), V2))
        smap.update(key=ZERO, value=V3)
        assert smap.get(ZERO) == V3
        assert smap.root_hash == node(leaf(ZERO, V3), leaf(key_with_bits(0), V2))

    def test_one_store_write_per_update_none_for_no_change(self) -> None:
        store = RecordingStore()
        smap = StatusMap(store)
        smap.update(key=ZERO, value=V1)
        smap.update(key=key_with_bits(200), value=V2)
        assert store.puts == 2
        smap.update(key=ZERO, value=V1)
        assert store.puts == 2

    def test_split_pushes_the_old_leaf_down(self) -> None:
        store = MemoryMapStore()
        smap = StatusMap(store)
        smap.update(key=ZERO, value=V1)
        assert store.get(1) == (ZERO, V1)
        smap.update(key=key_with_bits(3), value=V2)
        assert store.get(node_position(ZERO, 4)) == (ZERO, V1)
        assert store.get(node_position(key_with_bits(3), 4)) == (key_with_bits(3), V2)
        # Nodes at depth 0..3 are internal: their hashes.
        assert all(isinstance(store.get(node_position(ZERO, d)), bytes) for d in range(4))
        assert len(store) == 6

    @pytest.mark.parametrize(
        ("key", "value"), [(ZERO[:31], V1), (ZERO, V1 + b"\0"), (bytearray(32), V1), (ZERO, None)]
    )
    def test_rejects_bad_sizes(self, key: Any, value: Any) -> None:
        smap = StatusMap()
        with pytest.raises(StatusMapError):
            smap.update(key=key, value=value)
        assert smap.root_hash == E


class TestStatusMapUpdateMany:
    KEYS = (ZERO, key_with_bits(255), key_with_bits(0), key_with_bits(3, 9), key_with_bits(3))

    def test_agrees_with_single_updates(self) -> None:
        pairs = [(k, sha(k)) for k in self.KEYS]
        batch = StatusMap()
        batch.update_many(pairs)
        assert batch.root_hash == built(*pairs).root_hash

    def test_into_a_non_empty_map_with_overwrites(self) -> None:
        first = [(k, sha(k)) for k in self.KEYS[:3]]
        second = [(self.KEYS[0], V1), (self.KEYS[3], V2), (self.KEYS[4], V3)]
        smap = StatusMap()
        smap.update_many(first)
        smap.update_many(second)
        assert smap.root_hash == built(*first, *second).root_hash

    @pytest.mark.parametrize("stored", [ZERO, key_with_bits(0), key_with_bits(0, 255)])
    def test_pushes_a_stored_leaf_down(self, stored: bytes) -> None:
        smap = built((stored, V1))
        batch = [(k, V2) for k in self.KEYS if k != stored]
        smap.update_many(batch)
        assert smap.get(stored) == V1
        assert smap.root_hash == built((stored, V1), *batch).root_hash

    def test_keeps_a_stored_leaf_the_batch_passes(self) -> None:
        smap = built((ZERO, V1))
        smap.update_many([(key_with_bits(0), V2)])
        assert smap.get(ZERO) == V1
        assert smap.root_hash == node(leaf(ZERO, V1), leaf(key_with_bits(0), V2))

    def test_later_pair_wins(self) -> None:
        smap = StatusMap()
        smap.update_many([(ZERO, V1), (ZERO, V2)])
        assert smap.get(ZERO) == V2
        assert smap.root_hash == leaf(ZERO, V2)

    def test_one_store_write_none_for_no_change(self) -> None:
        store = RecordingStore()
        smap = StatusMap(store)
        smap.update_many((k, V1) for k in self.KEYS)
        assert store.puts == 1
        smap.update_many([(ZERO, V1)])
        smap.update_many([])
        assert store.puts == 1

    def test_rejects_bad_sizes(self) -> None:
        smap = StatusMap()
        with pytest.raises(StatusMapError, match="value"):
            smap.update_many([(ZERO, V1), (key_with_bits(0), V2[:31])])
        assert smap.root_hash == E  # nothing written


class TestStatusMapProve:
    def test_empty_map(self) -> None:
        assert StatusMap().prove(ZERO) == MapProof(bitmap=bytes(32), siblings=())

    def test_single_leaf(self) -> None:
        smap = built((ZERO, V1))
        assert smap.prove(ZERO) == MapProof(bitmap=bytes(32), siblings=())
        other = smap.prove(key_with_bits(0))
        assert other == MapProof(bitmap=bytes(32), siblings=(), other_leaf=(ZERO, V1))

    def test_depth_256(self) -> None:
        last = key_with_bits(255)
        smap = built((ZERO, V1), (last, V2))
        proof = smap.prove(last)
        assert proof == MapProof(bitmap=bitmap_of(255), siblings=(leaf(ZERO, V1),))
        assert proof.depth == 256
        verify_map_proof(root_hash=smap.root_hash, key=last, value=V2, proof=proof)

    def test_siblings_deepest_first(self) -> None:
        a, b, c = ZERO, key_with_bits(5), key_with_bits(0)
        smap = built((a, V1), (b, V2), (c, V3))
        proof = smap.prove(a)
        assert proof.bitmap == bitmap_of(0, 5)
        assert proof.siblings == (leaf(b, V2), leaf(c, V3))

    def test_rejects_short_key(self) -> None:
        with pytest.raises(StatusMapError, match="key"):
            StatusMap().prove(ZERO[:31])


# --- published vectors ------------------------------------------------------------------------


def _load_maps() -> list[tuple[str, dict[str, Any]]]:
    return [
        (file.stem, json.loads(file.read_text("utf-8")))
        for file in sorted((VECTORS / "maps").glob("*.json"))
    ]


MAPS = _load_maps()
CASES = [
    (f"{name}: {case['desc']}", vector, case) for name, vector in MAPS for case in vector["cases"]
]
LEAVES = json.loads((VECTORS / "leaves.json").read_text("utf-8"))["cases"]


def _bytes(text: str) -> bytes:
    return parse_hex(text, size=None)


class TestVectors:
    def test_present(self) -> None:
        names = {name for name, _ in MAPS}
        assert names == {"empty", "one", "two-long-prefix", "ten", "hundred", "deep"}
        assert sum(not c["wantErr"] for _, _, c in CASES) >= 40
        assert sum(c["wantErr"] for _, _, c in CASES) >= 100
        kinds = {c["desc"].split(":")[0] for _, _, c in CASES if not c["wantErr"]}
        assert kinds == {"membership", "non-membership (empty)", "non-membership (other leaf)"}

    @pytest.mark.parametrize(("name", "vector"), MAPS, ids=[name for name, _ in MAPS])
    def test_root(self, name: str, vector: dict[str, Any]) -> None:
        pairs = []
        for entry in vector["entries"]:
            key, value = _bytes(entry["key"]), _bytes(entry["value"])
            if "certificate_id" in entry:
                assert map_key(entry["certificate_id"]) == key
                derived = status_leaf_value(
                    certificate_id=entry["certificate_id"],
                    status=entry["status"],
                    record_hash=_bytes(entry["record_hash"]),
                    event_seq=entry["event_seq"],
                )
                assert derived == value
            pairs.append((key, value))
        assert built(*pairs).root_hash == _bytes(vector["root"])
        batch = StatusMap()
        batch.update_many(pairs)
        assert batch.root_hash == _bytes(vector["root"])

    @pytest.mark.parametrize(("desc", "vector", "case"), CASES, ids=[d for d, _, _ in CASES])
    def test_case(self, desc: str, vector: dict[str, Any], case: dict[str, Any]) -> None:
        proof = MapProof.from_json(case["proof"])
        key = _bytes(case["key"])
        value = None if case["value"] is None else _bytes(case["value"])

        def check() -> None:
            verify_map_proof(root_hash=_bytes(case["root"]), key=key, value=value, proof=proof)

        if case["wantErr"]:
            with pytest.raises(MapProofError):
                check()
            return
        check()
        # A valid vector is exactly the proof the implementation produces (proofs are unique).
        smap = StatusMap()
        smap.update_many((_bytes(e["key"]), _bytes(e["value"])) for e in vector["entries"])
        assert smap.prove(key) == proof
        assert smap.get(key) == value
        assert proof.to_json() == case["proof"]

    @pytest.mark.parametrize("case", LEAVES, ids=[c["desc"] for c in LEAVES])
    def test_leaf(self, case: dict[str, Any]) -> None:
        def derive() -> bytes:
            return status_leaf_value(
                certificate_id=case["certificate_id"],
                status=case["status"],
                record_hash=_bytes(case["record_hash"]),
                event_seq=case["event_seq"],
            )

        if case["wantErr"]:
            with pytest.raises(StatusMapError):
                derive()
            return
        assert derive() == _bytes(case["value"])
        assert map_key(case["certificate_id"]) == _bytes(case["key"])
        leaf_object = status_leaf(
            certificate_id=case["certificate_id"],
            status=case["status"],
            record_hash=_bytes(case["record_hash"]),
            event_seq=case["event_seq"],
        )
        assert canonical_json(leaf_object).decode("utf-8") == case["leaf_jcs"]
        assert sha(case["leaf_jcs"].encode("utf-8")) == _bytes(case["value"])

    def test_generator_reproduces_the_files(self) -> None:
        spec = importlib.util.spec_from_file_location("statusmap_generate", VECTORS / "generate.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for rel, text in module.build().items():
            assert (VECTORS / rel).read_text("utf-8") == text, rel


class TestSpecExample:
    """Every value of the worked example in docs/spec.md §5.1 and §5.5."""

    def test_leaf(self) -> None:
        fields: dict[str, Any] = {
            "certificate_id": "cert-0",
            "status": "valid",
            "record_hash": sha(b"record cert-0"),
            "event_seq": 0,
        }
        assert canonical_json(status_leaf(**fields)) == (
            b'{"certificate_id":"cert-0","event_seq":0,"record_hash":'
            b'"0xabce7824173edb2342f01aa6f74983fcae09aa2b4259526ab7f92cf32145422a","status":"valid"}'
        )
        assert hex0x(map_key("cert-0")) == (
            "0x5b7742ef95742103b68afe0f4249ef7815c8d7979da9ca50ba1b87e66e725bb3"
        )
        assert hex0x(status_leaf_value(**fields)) == (
            "0xa032a256cf1f5ba8446f48d661a3403c0e780d018f0859823beb626b15d36a80"
        )

    def test_two_entry_map(self) -> None:
        assert hex0x(E) == "0xe52d9c508c502347344d8c07ad91cbd6068afc75ff6292f062a09ca381c89e71"
        k0, k1 = map_key("cert-0"), map_key("cert-1")
        v0 = status_leaf_value(
            certificate_id="cert-0", status="valid", record_hash=sha(b"record cert-0"), event_seq=0
        )
        v1 = status_leaf_value(
            certificate_id="cert-1",
            status="suspended",
            record_hash=sha(b"record cert-1"),
            event_seq=1,
        )
        assert hex0x(sha(b"record cert-1")) == (
            "0xa5f12c0982bc92263a076314224118802188ad211c33ec1ef683c6b3eb07c36e"
        )
        assert hex0x(k1) == "0x7e3e5b641bb95284ab02e6b9f694727d27337f1bc7d89a3d9a7f9788b51667f3"
        assert hex0x(v1) == "0x851b924d06685aff643d07f86651d2f14259f45becd700a4aa91a37071a62d88"
        l0, l1 = leaf(k0, v0), leaf(k1, v1)
        assert hex0x(l0) == "0xbc9fe67a73526fadba1bb91a7a63f806da3c945e0c7ae1da47eb66593bad86f4"
        assert hex0x(l1) == "0x03d63dcb243936066f1022169ff4d9dab12db2238c607241fa43c44e97cd1dca"
        n2 = node(l0, l1)
        n1 = node(E, n2)
        assert hex0x(n2) == "0x2073569aeb8f34163f282677f3950114be1417b78f843389498394f0a8ed0e41"
        assert hex0x(n1) == "0xc1ab6b584f43206b16882277f34934dbb198f4c3b8ca76e505dbfa7abe54394c"
        smap = built((k0, v0), (k1, v1))
        root = smap.root_hash
        assert root == node(n1, E)
        assert hex0x(root) == "0x3d58d13d7c766f1ae9520bee5489e3b3d76868054cb2f0e915c0f8a5eee5eddd"

        assert smap.prove(k0) == MapProof(bitmap=bitmap_of(2), siblings=(l1,))
        absent0, absent1 = map_key("absent-0"), map_key("absent-1")
        assert hex0x(absent0).startswith("0x23510ad7")
        assert hex0x(absent1).startswith("0x75c2b5ef")
        assert smap.prove(absent0) == MapProof(bitmap=bitmap_of(1), siblings=(n2,))
        other = MapProof(bitmap=bitmap_of(2), siblings=(l0,), other_leaf=(k1, v1))
        assert smap.prove(absent1) == other
        verify_map_proof(root_hash=root, key=k0, value=v0, proof=smap.prove(k0))
        verify_map_proof(root_hash=root, key=absent0, value=None, proof=smap.prove(absent0))
        verify_map_proof(root_hash=root, key=absent1, value=None, proof=other)
