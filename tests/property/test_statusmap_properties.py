"""Properties of the status map, against a naive reference written straight from spec §5."""

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from registry.core.errors import MapProofError
from registry.core.statusmap import MapProof, StatusMap, verify_map_proof

VECTORS = Path(__file__).parents[1] / "vectors" / "statusmap"

# --- the naive reference: recursive over the whole key set, no shortcuts ---------------------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


REF_EMPTY = _h(b"\x04")


def _bit(key: bytes, i: int) -> int:
    return (key[i // 8] >> (7 - i % 8)) & 1


def reference_root(items: dict[bytes, bytes], depth: int = 0) -> bytes:
    """Hash of the subtree at `depth` holding exactly `items`, by the three node rules."""
    if not items:
        return REF_EMPTY
    if len(items) == 1:
        ((key, value),) = items.items()
        return _h(b"\x02" + key + value)
    left = {k: v for k, v in items.items() if _bit(k, depth) == 0}
    right = {k: v for k, v in items.items() if _bit(k, depth) == 1}
    return _h(b"\x03" + reference_root(left, depth + 1) + reference_root(right, depth + 1))


def reference_proof(items: dict[bytes, bytes], key: bytes) -> MapProof:
    """The proof for `key`: walk down while the subtree on its path holds two or more leaves."""
    bitmap = 0
    siblings: list[bytes] = []
    depth = 0
    here = items
    while len(here) >= 2:
        bit = _bit(key, depth)
        sibling = {k: v for k, v in here.items() if _bit(k, depth) != bit}
        here = {k: v for k, v in here.items() if _bit(k, depth) == bit}
        if sibling:
            bitmap |= 1 << (255 - depth)
            siblings.append(reference_root(sibling, depth + 1))
        depth += 1
    other = None
    if here and key not in here:
        ((other_key, other_value),) = here.items()
        other = (other_key, other_value)
    return MapProof(
        bitmap=bitmap.to_bytes(32, "big"), siblings=tuple(reversed(siblings)), other_leaf=other
    )


# --- strategies -------------------------------------------------------------------------------

values = st.binary(min_size=32, max_size=32)


@st.composite
def keys_near(draw: st.DrawFn, base: bytes, positions: list[int]) -> bytes:
    """`base` with a subset of `positions` flipped: keys sharing long prefixes."""
    n = int.from_bytes(base, "big")
    for position in draw(st.lists(st.sampled_from(positions), max_size=len(positions))):
        n ^= 1 << (255 - position)
    return n.to_bytes(32, "big")


def _pool(base: bytes, positions: list[int]) -> st.SearchStrategy[bytes]:
    return st.one_of(values, keys_near(base, positions))


# A key strategy mixing random keys with a cluster around one base: the cluster's keys share
# long prefixes (chains of one-child nodes) and, through positions 240..255, reach depth 256.
key_pools = st.builds(
    _pool,
    values,
    st.lists(
        st.one_of(st.integers(0, 12), st.integers(240, 255), st.integers(0, 255)),
        min_size=1,
        max_size=6,
    ),
)


@st.composite
def maps(
    draw: st.DrawFn, max_size: int = 20
) -> tuple[dict[bytes, bytes], st.SearchStrategy[bytes]]:
    """A set of (key, value) entries, and the key strategy it came from (for absent keys)."""
    pool = draw(key_pools)
    # A list, not st.dictionaries: a repeated key just overwrites, no draw is rejected.
    items = dict(draw(st.lists(st.tuples(pool, values), max_size=max_size)))
    return items, pool


def built(items: dict[bytes, bytes]) -> StatusMap:
    smap = StatusMap()
    for key, value in items.items():
        smap.update(key=key, value=value)
    return smap


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(out)


# --- properties -------------------------------------------------------------------------------


class TestRoot:
    @given(maps(), st.data())
    def test_matches_reference_in_any_order(
        self, drawn: tuple[dict[bytes, bytes], object], data: st.DataObject
    ) -> None:
        items, _ = drawn
        want = reference_root(items)
        pairs = list(items.items())
        shuffled = data.draw(st.permutations(pairs))
        for order in (pairs, shuffled, sorted(pairs)):
            smap = StatusMap()
            for key, value in order:
                smap.update(key=key, value=value)
            assert smap.root_hash == want
            batch = StatusMap()
            batch.update_many(order)
            assert batch.root_hash == want

    @given(maps(max_size=12), st.data())
    def test_overwrites_and_mixed_batches(
        self, drawn: tuple[dict[bytes, bytes], st.SearchStrategy[bytes]], data: st.DataObject
    ) -> None:
        items, pool = drawn
        later = data.draw(
            st.lists(
                st.tuples(st.one_of(pool, st.sampled_from(sorted(items) or [bytes(32)])), values)
            )
        )
        split = data.draw(st.integers(0, len(later)))
        single, batch = built(items), StatusMap()
        batch.update_many(items.items())
        for key, value in later:
            single.update(key=key, value=value)
        batch.update_many(later[:split])
        batch.update_many(later[split:])
        final = {**items, **dict(later)}
        assert single.root_hash == batch.root_hash == reference_root(final)
        for key, value in final.items():
            assert single.get(key) == batch.get(key) == value


class TestProofs:
    @given(maps())
    def test_members_prove_membership(self, drawn: tuple[dict[bytes, bytes], object]) -> None:
        items, _ = drawn
        smap = built(items)
        root = smap.root_hash
        for key, value in items.items():
            proof = smap.prove(key)
            assert proof == reference_proof(items, key)
            assert proof.other_leaf is None
            verify_map_proof(root_hash=root, key=key, value=value, proof=proof)
            with pytest.raises(MapProofError):
                verify_map_proof(root_hash=root, key=key, value=None, proof=proof)

    @given(maps(), st.data())
    def test_absent_keys_prove_non_membership(
        self, drawn: tuple[dict[bytes, bytes], st.SearchStrategy[bytes]], data: st.DataObject
    ) -> None:
        items, pool = drawn
        smap = built(items)
        for key in data.draw(st.lists(pool, min_size=1, max_size=5)):
            if key in items:
                continue
            proof = smap.prove(key)
            event("other leaf" if proof.other_leaf else "empty")
            assert proof == reference_proof(items, key)
            verify_map_proof(root_hash=smap.root_hash, key=key, value=None, proof=proof)
            with pytest.raises(MapProofError):
                verify_map_proof(root_hash=smap.root_hash, key=key, value=bytes(32), proof=proof)

    @given(maps())
    def test_other_leaf_kind(self, drawn: tuple[dict[bytes, bytes], object]) -> None:
        # A present key with its last bit flipped is absent unless present itself, and its path
        # ends in that key's leaf (they share 255 bits).
        items, _ = drawn
        smap = built(items)
        for key, value in items.items():
            neighbour = _flip(key, 255)
            if neighbour in items:
                continue
            proof = smap.prove(neighbour)
            assert proof.other_leaf == (key, value)
            verify_map_proof(root_hash=smap.root_hash, key=neighbour, value=None, proof=proof)

    @given(maps())
    def test_empty_kind(self, drawn: tuple[dict[bytes, bytes], object]) -> None:
        # Where a member's path passes an empty sibling at depth d, the key that turns there
        # ends in that empty subtree at depth d + 1.
        items, _ = drawn
        smap = built(items)
        found = not items
        if not items:
            proof = smap.prove(bytes(32))
            assert proof == MapProof(bitmap=bytes(32), siblings=())
            verify_map_proof(root_hash=smap.root_hash, key=bytes(32), value=None, proof=proof)
        for key in items:
            member = smap.prove(key)
            bits = int.from_bytes(member.bitmap, "big")
            clear = [d for d in range(member.depth) if not (bits >> (255 - d)) & 1]
            for d in clear[:2]:
                absent = _flip(key, d)
                proof = smap.prove(absent)
                assert proof.other_leaf is None
                assert proof.depth == d + 1
                verify_map_proof(root_hash=smap.root_hash, key=absent, value=None, proof=proof)
                found = True
        assume(found)

    @given(maps(), st.data())
    def test_wrong_value_fails(
        self, drawn: tuple[dict[bytes, bytes], object], data: st.DataObject
    ) -> None:
        items, _ = drawn
        assume(items)
        smap = built(items)
        key = data.draw(st.sampled_from(sorted(items)))
        wrong = _flip(items[key], data.draw(st.integers(0, 255)))
        with pytest.raises(MapProofError):
            verify_map_proof(root_hash=smap.root_hash, key=key, value=wrong, proof=smap.prove(key))

    @given(maps(), st.data())
    def test_any_bit_flip_fails(
        self, drawn: tuple[dict[bytes, bytes], st.SearchStrategy[bytes]], data: st.DataObject
    ) -> None:
        items, pool = drawn
        smap = built(items)
        key = data.draw(st.one_of(pool, st.sampled_from(sorted(items) or [bytes(32)])))
        value = items.get(key)
        proof = smap.prove(key)
        # The flippable fields, each as bytes: bitmap, siblings, and the terminal's contents
        # (the member's key and value, or the other leaf); an empty terminal has none.
        fields: list[bytes] = [proof.bitmap, *proof.siblings]
        if value is not None:
            fields += [key, value]
        elif proof.other_leaf is not None:
            fields += list(proof.other_leaf)
        index = data.draw(st.integers(0, len(fields) - 1))
        bit = data.draw(st.integers(0, 255))
        flipped = list(fields)
        flipped[index] = _flip(fields[index], bit)
        siblings = tuple(flipped[1 : 1 + len(proof.siblings)])
        terminal = flipped[1 + len(proof.siblings) :]
        bad_key, bad_value, other = key, value, proof.other_leaf
        if value is not None:
            bad_key, bad_value = terminal
        elif other is not None:
            other = (terminal[0], terminal[1])
        bad = MapProof(bitmap=flipped[0], siblings=siblings, other_leaf=other)
        with pytest.raises(MapProofError):
            verify_map_proof(root_hash=smap.root_hash, key=bad_key, value=bad_value, proof=bad)


class TestVectorsAgainstReference:
    def test_vector_roots_and_proofs(self) -> None:
        for file in sorted((VECTORS / "maps").glob("*.json")):
            vector = json.loads(file.read_text("utf-8"))
            items = {
                bytes.fromhex(e["key"][2:]): bytes.fromhex(e["value"][2:])
                for e in vector["entries"]
            }
            assert reference_root(items).hex() == vector["root"][2:], file.name
            for case in vector["cases"]:
                if not case["wantErr"]:
                    key = bytes.fromhex(case["key"][2:])
                    assert reference_proof(items, key).to_json() == case["proof"], case["desc"]
