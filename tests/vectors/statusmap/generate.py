"""Generate the status-map test vectors of docs/spec.md §5, deterministically.

Run from the repository root:

    .venv/bin/python tests/vectors/statusmap/generate.py           # (re)write the files
    .venv/bin/python tests/vectors/statusmap/generate.py --check   # exit 1 if any file differs

Keys come from `map_key("cert-<i>")`, values from `status_leaf_value` over fixed fields, so the
output depends on nothing but the rules. The format is described in README.md next to this file.
"""

import argparse
import hashlib
import itertools
import json
import sys
import unicodedata
from pathlib import Path

from registry.core.canonical import canonical_json
from registry.core.encoding import hex0x
from registry.core.statusmap import (
    EMPTY_HASH,
    MapProof,
    StatusMap,
    map_key,
    status_leaf,
    status_leaf_value,
)

HERE = Path(__file__).parent

_STATUS_CYCLE = ("valid", "suspended", "withdrawn", "superseded")

Json = dict[str, object]


def _sha(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _flip(data: bytes, bit: int) -> bytes:
    """`data` with bit `bit` (MSB-first) inverted."""
    out = bytearray(data)
    out[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(out)


def _set_bit(bitmap: bytes, bit: int) -> bytes:
    out = bytearray(bitmap)
    out[bit // 8] |= 0x80 >> (bit % 8)
    return bytes(out)


def _clear_bit(bitmap: bytes, bit: int) -> bytes:
    out = bytearray(bitmap)
    out[bit // 8] &= ~(0x80 >> (bit % 8)) & 0xFF
    return bytes(out)


def _shared_bits(a: bytes, b: bytes) -> int:
    return 256 - (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_length()


# --- entries ------------------------------------------------------------------------------------


def cert_entry(i: int) -> Json:
    """The map entry of certificate `cert-<i>`, with the fields its value is derived from."""
    cid = f"cert-{i}"
    status = _STATUS_CYCLE[i % 4]
    record_hash = _sha(f"record {cid}")
    value = status_leaf_value(
        certificate_id=cid, status=status, record_hash=record_hash, event_seq=i
    )
    return {
        "certificate_id": cid,
        "status": status,
        "record_hash": hex0x(record_hash),
        "event_seq": i,
        "key": hex0x(map_key(cid)),
        "value": hex0x(value),
    }


def raw_entry(key: bytes, label: str) -> Json:
    """An entry given by raw key and value only (to reach depths no hashed id would)."""
    return {"key": hex0x(key), "value": hex0x(_sha(f"value {label}"))}


def _kv(entry: Json) -> tuple[bytes, bytes]:
    return bytes.fromhex(str(entry["key"])[2:]), bytes.fromhex(str(entry["value"])[2:])


def longest_shared_prefix_pair(limit: int) -> tuple[int, int]:
    """The two ids `cert-<i>`, i < limit, whose keys share the most leading bits (first found)."""
    keyed = sorted((map_key(f"cert-{i}"), i) for i in range(limit))
    best = (-1, 0, 0)
    for (a, i), (b, j) in itertools.pairwise(keyed):
        shared = _shared_bits(a, b)
        if shared > best[0] or (shared == best[0] and min(i, j) < min(best[1], best[2])):
            best = (shared, min(i, j), max(i, j))
    return best[1], best[2]


def lenient_root(key: bytes, value: bytes | None, proof: MapProof) -> bytes:
    """The root a proof implies with none of the structural checks of spec §5.4.

    Must-fail cases that break only a structural rule are given this root, so that a verifier
    rejects them by that rule and not merely because the root differs.
    """
    if value is not None:
        node = hashlib.sha256(b"\x02" + key + value).digest()
    elif proof.other_leaf is not None:
        node = hashlib.sha256(b"\x02" + proof.other_leaf[0] + proof.other_leaf[1]).digest()
    else:
        node = EMPTY_HASH
    bits = int.from_bytes(proof.bitmap, "big")
    depth = proof.depth
    siblings = iter(proof.siblings)
    for d in range(depth - 1, -1, -1):
        sibling = next(siblings) if (bits >> (255 - d)) & 1 else EMPTY_HASH
        if (int.from_bytes(key, "big") >> (255 - d)) & 1:
            node = hashlib.sha256(b"\x03" + sibling + node).digest()
        else:
            node = hashlib.sha256(b"\x03" + node + sibling).digest()
    return node


# --- cases --------------------------------------------------------------------------------------


def _case(
    desc: str, *, root: bytes, key: bytes, value: bytes | None, proof: MapProof, want_err: bool
) -> Json:
    return {
        "desc": desc,
        "root": hex0x(root),
        "key": hex0x(key),
        "value": None if value is None else hex0x(value),
        "proof": proof.to_json(),
        "wantErr": want_err,
    }


def _membership_failures(
    smap: StatusMap, key: bytes, value: bytes, other: tuple[bytes, bytes] | None
) -> list[Json]:
    """Must-fail cases derived from the membership proof of `key`."""
    root = smap.root_hash
    proof = smap.prove(key)
    depth = proof.depth
    sib = proof.siblings
    out: list[Json] = []

    def bad(desc: str, *, p: MapProof = proof, k: bytes = key, v: bytes | None = value) -> None:
        out.append(_case(desc, root=root, key=k, value=v, proof=p, want_err=True))

    def bad_root(desc: str, wrong_root: bytes) -> None:
        out.append(_case(desc, root=wrong_root, key=key, value=value, proof=proof, want_err=True))

    bad("membership: value with its last bit flipped", v=_flip(value, 255))
    bad("membership: key with its last bit flipped", k=_flip(key, 255))
    bad("membership: value null (claims the present key is absent)", v=None)
    bad_root("membership: root with its first bit flipped", _flip(root, 0))
    bad_root("membership: root of the empty map", EMPTY_HASH)
    if other is not None:
        bad("membership: value of another key", v=other[1])
        bad(
            "membership: proof carries an other_leaf",
            p=MapProof(bitmap=proof.bitmap, siblings=sib, other_leaf=other),
        )
    bad(
        "non-membership: other_leaf is the key's own leaf (other_leaf.key == key)",
        p=MapProof(bitmap=proof.bitmap, siblings=sib, other_leaf=(key, value)),
        v=None,
    )
    if sib:
        bad(
            "membership: deepest sibling with its first bit flipped",
            p=MapProof(bitmap=proof.bitmap, siblings=(_flip(sib[0], 0), *sib[1:])),
        )
        bad(
            "membership: shallowest sibling with its last bit flipped",
            p=MapProof(bitmap=proof.bitmap, siblings=(*sib[:-1], _flip(sib[-1], 255))),
        )
        bad(
            "membership: deepest sibling dropped (count below popcount)",
            p=MapProof(bitmap=proof.bitmap, siblings=sib[1:]),
        )
        bad(
            "membership: highest bitmap bit cleared (count above popcount)",
            p=MapProof(bitmap=_clear_bit(proof.bitmap, depth - 1), siblings=sib),
        )
        bad(
            "membership: deepest sibling truncated to 31 bytes",
            p=MapProof(bitmap=proof.bitmap, siblings=(sib[0][:31], *sib[1:])),
        )
        bad(
            "membership: sibling extended to 33 bytes",
            p=MapProof(bitmap=proof.bitmap, siblings=(sib[0] + b"\x00", *sib[1:])),
        )
    if len(sib) >= 2:
        bad(
            "membership: siblings in shallowest-first order",
            p=MapProof(bitmap=proof.bitmap, siblings=tuple(reversed(sib))),
        )
    if depth < 256:
        bad(
            "membership: extra bitmap bit below the terminal (count below popcount)",
            p=MapProof(bitmap=_set_bit(proof.bitmap, depth), siblings=sib),
        )
        explicit = MapProof(bitmap=_set_bit(proof.bitmap, depth), siblings=(EMPTY_HASH, *sib))
        out.append(
            _case(
                "membership: explicit empty-subtree sibling (bit set, E sent; root as implied)",
                root=lenient_root(key, value, explicit),
                key=key,
                value=value,
                proof=explicit,
                want_err=True,
            )
        )
    bad(
        "membership: extra sibling appended",
        p=MapProof(bitmap=proof.bitmap, siblings=(*sib, EMPTY_HASH[::-1])),
    )
    bad(
        "membership: bitmap of 31 bytes",
        p=MapProof(bitmap=proof.bitmap[:31], siblings=sib),
    )
    bad(
        "membership: bitmap of 33 bytes",
        p=MapProof(bitmap=proof.bitmap + b"\x00", siblings=sib),
    )
    bad("membership: key of 31 bytes", k=key[:31])
    bad("membership: value of 33 bytes", v=value + b"\x00")
    bad_root("membership: root of 31 bytes", root[:31])
    return out


def _other_leaf_failures(smap: StatusMap, key: bytes) -> list[Json]:
    """Must-fail cases derived from a non-membership proof that ends in another key's leaf."""
    root = smap.root_hash
    proof = smap.prove(key)
    assert proof.other_leaf is not None
    other_key, other_value = proof.other_leaf
    depth = proof.depth
    sib = proof.siblings
    out: list[Json] = []

    def bad(desc: str, *, p: MapProof, v: bytes | None = None) -> None:
        out.append(_case(desc, root=root, key=key, value=v, proof=p, want_err=True))

    bad(
        "non-membership (other leaf): other_leaf.value with its last bit flipped",
        p=MapProof(proof.bitmap, sib, (other_key, _flip(other_value, 255))),
    )
    bad(
        "non-membership (other leaf): other_leaf.key with its last bit flipped",
        p=MapProof(proof.bitmap, sib, (_flip(other_key, 255), other_value)),
    )
    if depth > 0:
        off_path = MapProof(proof.bitmap, sib, (_flip(other_key, 0), other_value))
        out.append(
            _case(
                "non-membership (other leaf): other_leaf.key leaves the key's path above the "
                "terminal (root as implied)",
                root=lenient_root(key, None, off_path),
                key=key,
                value=None,
                proof=off_path,
                want_err=True,
            )
        )
    bad(
        "non-membership (other leaf): other_leaf dropped (claims an empty terminal)",
        p=MapProof(proof.bitmap, sib, None),
    )
    bad(
        "non-membership (other leaf): value given (claims membership) with the other leaf",
        p=proof,
        v=other_value,
    )
    bad(
        "non-membership (other leaf): other_leaf dropped and its value claimed for the key",
        p=MapProof(proof.bitmap, sib, None),
        v=other_value,
    )
    bad(
        "non-membership (other leaf): other_leaf.key of 31 bytes",
        p=MapProof(proof.bitmap, sib, (other_key[:31], other_value)),
    )
    bad(
        "non-membership (other leaf): other_leaf.value of 31 bytes",
        p=MapProof(proof.bitmap, sib, (other_key, other_value[:31])),
    )
    return out


def _empty_failures(smap: StatusMap, key: bytes) -> list[Json]:
    """Must-fail cases derived from a non-membership proof that ends in an empty subtree."""
    root = smap.root_hash
    proof = smap.prove(key)
    assert proof.other_leaf is None
    sib = proof.siblings
    out: list[Json] = []

    def bad(desc: str, *, p: MapProof, v: bytes | None = None) -> None:
        out.append(_case(desc, root=root, key=key, value=v, proof=p, want_err=True))

    bad(
        "non-membership (empty): value given (claims membership)",
        p=proof,
        v=_sha("not stored"),
    )
    bad(
        "non-membership (empty): a made-up other_leaf on the key's path",
        p=MapProof(proof.bitmap, sib, (_flip(key, 255), _sha("not stored"))),
    )
    if sib:
        bad(
            "non-membership (empty): deepest sibling with its first bit flipped",
            p=MapProof(proof.bitmap, (_flip(sib[0], 0), *sib[1:])),
        )
        bad(
            "non-membership (empty): all siblings dropped, bitmap zero",
            p=MapProof(bytes(32), ()),
        )
    else:
        bad(
            "non-membership (empty): bitmap bit 0 set with a made-up sibling",
            p=MapProof(_set_bit(bytes(32), 0), (_sha("made up"),)),
        )
    return out


def map_vectors(
    name: str, desc: str, entries: list[Json], *, members: list[int], absent_ids: list[str]
) -> Json:
    """A map file: its entries, its root, valid proofs and must-fail cases.

    `members`: indices of the entries to give membership proofs (the deepest one also seeds the
    must-fail cases); `absent_ids`: ids tried in order for non-membership proofs.
    """
    smap = StatusMap()
    pairs = [_kv(e) for e in entries]
    smap.update_many(pairs)
    root = smap.root_hash
    cases: list[Json] = []

    for i in members:
        key, value = pairs[i]
        cases.append(
            _case(
                f"membership: entry {i} ({entries[i].get('certificate_id', 'raw key')})",
                root=root,
                key=key,
                value=value,
                proof=smap.prove(key),
                want_err=False,
            )
        )

    empty_keys: list[bytes] = []
    other_keys: list[bytes] = []
    for label in absent_ids:
        key = bytes.fromhex(label[2:]) if label.startswith("0x") else map_key(label)
        kind = "empty" if smap.prove(key).other_leaf is None else "other leaf"
        bucket = empty_keys if kind == "empty" else other_keys
        if len(bucket) >= 2:
            continue
        bucket.append(key)
        cases.append(
            _case(
                f"non-membership ({kind}): {label}",
                root=root,
                key=key,
                value=None,
                proof=smap.prove(key),
                want_err=False,
            )
        )

    if members:
        deepest = max(members, key=lambda i: (smap.prove(pairs[i][0]).depth, -i))
        key, value = pairs[deepest]
        other = next((p for p in pairs if p[0] != key), None)
        cases.extend(_membership_failures(smap, key, value, other))
    if other_keys:
        cases.extend(_other_leaf_failures(smap, other_keys[0]))
    if empty_keys:
        cases.extend(_empty_failures(smap, empty_keys[0]))

    return {
        "name": name,
        "desc": desc,
        "entries": entries,
        "root": hex0x(root),
        "cases": cases,
    }


def _absent(n: int) -> list[str]:
    return [f"absent-{j}" for j in range(n)]


def all_maps() -> list[Json]:
    """Every map file's content, in a fixed order."""
    a, b = longest_shared_prefix_pair(1 << 16)
    deep_keys = [
        bytes(32),  # K0
        bytes(31) + b"\x01",  # K1: shares 255 bits with K0, both leaves at depth 256
        bytes(31) + b"\x04",  # K2: shares 253 bits with K0
        b"\x80" + bytes(31),  # K3: alone in the right half
    ]
    deep_absent = [
        "0x" + (bytes(31) + b"\x06").hex(),  # ends in K2's leaf at depth 254
        "0x" + (bytes(31) + b"\x08").hex(),  # ends in an empty subtree at depth 253
        "0x" + (b"\x40" + bytes(31)).hex(),  # ends in an empty subtree at depth 2
        "0x" + (b"\xc0" + bytes(31)).hex(),  # ends in K3's leaf at depth 1
    ]
    ten = [cert_entry(i) for i in range(10)]
    hundred = [cert_entry(i) for i in range(100)]
    return [
        map_vectors(
            "empty",
            "The empty map: its root is E = H(0x04); every key is absent.",
            [],
            members=[],
            absent_ids=_absent(2),
        ),
        map_vectors(
            "one",
            "One key: the root is that key's leaf hash; absent keys end in it at depth 0.",
            [cert_entry(0)],
            members=[0],
            absent_ids=_absent(2),
        ),
        map_vectors(
            "two-long-prefix",
            f"cert-{a} and cert-{b}: the two ids below 65536 whose keys share the longest prefix "
            f"({_shared_bits(map_key(f'cert-{a}'), map_key(f'cert-{b}'))} bits).",
            [cert_entry(a), cert_entry(b)],
            members=[0, 1],
            absent_ids=_absent(20),
        ),
        map_vectors(
            "ten",
            "cert-0 .. cert-9.",
            ten,
            members=list(range(10)),
            absent_ids=_absent(200),
        ),
        map_vectors(
            "hundred",
            "cert-0 .. cert-99.",
            hundred,
            members=list(range(0, 100, 10)),
            absent_ids=_absent(200),
        ),
        map_vectors(
            "deep",
            "Raw keys reaching the deepest levels: K0 = 0x00..00 and K1 = 0x00..01 are leaves "
            "at depth 256 (bitmap bit 255 set), K2 = 0x00..04 at depth 254, K3 = 0x80..00 at 1.",
            [raw_entry(k, f"K{i}") for i, k in enumerate(deep_keys)],
            members=[0, 1, 2, 3],
            absent_ids=deep_absent,
        ),
    ]


def leaf_vectors() -> Json:
    """Key and value derivation: `map_key` and `status_leaf_value`."""
    vn = "GCN-Số 01/2024/ĐLVN"
    rows: list[tuple[str, str, str, int]] = [
        ("cert-0", "valid", "record cert-0", 0),
        ("cert-1", "suspended", "record cert-1", 1),
        ("cert-2", "withdrawn", "record cert-2", 2),
        ("cert-3", "superseded", "record cert-3", 3),
        (unicodedata.normalize("NFC", vn), "valid", "record vn", 9007199254740991),
        (unicodedata.normalize("NFD", vn), "valid", "record vn", 9007199254740991),
    ]
    cases: list[Json] = []
    for cid, status, record, seq in rows:
        leaf = status_leaf(
            certificate_id=cid, status=status, record_hash=_sha(record), event_seq=seq
        )
        cases.append(
            {
                "desc": f"status {status}"
                if cid == unicodedata.normalize("NFC", cid)
                else "the NFD spelling of the id above: same key, same leaf_jcs, same value",
                "certificate_id": cid,
                "status": status,
                "record_hash": hex0x(_sha(record)),
                "event_seq": seq,
                "leaf_jcs": canonical_json(leaf).decode("utf-8"),
                "key": hex0x(map_key(cid)),
                "value": hex0x(
                    status_leaf_value(
                        certificate_id=cid, status=status, record_hash=_sha(record), event_seq=seq
                    )
                ),
                "wantErr": False,
            }
        )
    bad_rows: list[tuple[str, str, str, int]] = [
        ("status expired is derived, never stored", "expired", hex0x(_sha("r")), 0),
        ("status is case-sensitive", "VALID", hex0x(_sha("r")), 0),
        ("event_seq negative", "valid", hex0x(_sha("r")), -1),
        ("event_seq above 2^53 - 1", "valid", hex0x(_sha("r")), 2**53),
        ("record_hash of 31 bytes", "valid", hex0x(_sha("r")[:31]), 0),
    ]
    for desc, status, record_hash, seq in bad_rows:
        cases.append(
            {
                "desc": desc,
                "certificate_id": "cert-0",
                "status": status,
                "record_hash": record_hash,
                "event_seq": seq,
                "wantErr": True,
            }
        )
    return {"desc": "Map key and value derivation (spec §5.1).", "cases": cases}


def render(obj: object) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=True) + "\n"


def build() -> dict[str, str]:
    """Every vector file: path relative to this directory -> content."""
    files = {f"maps/{m['name']}.json": render(m) for m in all_maps()}
    files["leaves.json"] = render(leaf_vectors())
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    stale = []
    for rel, text in build().items():
        path = HERE / rel
        if args.check:
            if not path.exists() or path.read_text("utf-8") != text:
                stale.append(rel)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8")
    if stale:
        print("stale vector files: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
