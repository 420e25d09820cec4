"""Record format 2 (docs/spec.md §2b): the published vector, redaction, and every way a copy
can be wrong."""

import copy
import hashlib
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from registry.core.canonical import canonical_json
from registry.core.disclosure import (
    ALWAYS_DISCLOSED,
    DisclosureError,
    commit,
    digests_hash,
    field_digest,
    hash_record,
    open_record,
    redact,
)
from registry.core.encoding import hex0x

VECTOR = json.loads(
    (Path(__file__).parents[3] / "docs/examples/record-format-2.json").read_text("utf-8")
)


def test_the_published_vector() -> None:
    record = commit(VECTOR["fields"], VECTOR["salts"])
    assert record == VECTOR["record"]
    assert hex0x(hash_record(record)) == VECTOR["record_hash"]
    assert hex0x(digests_hash(record)) == VECTOR["record_hash"]
    address = next(d for d in record["disclosures"] if d[1] == "holder_address")
    assert (
        hex0x(field_digest(salt=address[0], name=address[1], value=address[2]))
        == "0x48440de791b0dce0589fd71881283658451d9e664314c53a72ed8236e7352ed9"
    )


def test_the_record_hash_is_over_the_sorted_digests() -> None:
    record = VECTOR["record"]
    preimage = canonical_json({"digests": sorted(record["digests"]), "format": 2})
    assert hex0x(hashlib.sha256(preimage).digest()) == VECTOR["record_hash"]


def test_a_public_copy_hashes_as_the_whole_record() -> None:
    public = redact(VECTOR["record"], keep=set(VECTOR["fields"]) - {"holder_address"})
    assert public == VECTOR["public"]
    opened = open_record(public)
    assert opened.withheld == 1
    assert "holder_address" not in opened.fields
    assert hex0x(opened.record_hash) == VECTOR["record_hash"]


def test_redaction_never_drops_what_every_copy_shows() -> None:
    public = redact(VECTOR["record"], keep=())
    assert set(open_record(public).fields) == ALWAYS_DISCLOSED


def test_decomposed_vietnamese_hashes_as_precomposed() -> None:
    fields = copy.deepcopy(VECTOR["fields"])
    fields["holder_name"] = unicodedata.normalize("NFD", fields["holder_name"])
    assert commit(fields, VECTOR["salts"]) == VECTOR["record"]
    record = copy.deepcopy(VECTOR["record"])
    for item in record["disclosures"]:
        if isinstance(item[2], str):
            item[2] = unicodedata.normalize("NFD", item[2])
    assert hex0x(open_record(record).record_hash) == VECTOR["record_hash"]


def _broken(change: Any) -> dict[str, Any]:
    record: dict[str, Any] = copy.deepcopy(VECTOR["record"])
    change(record)
    return record


def _set_value(name: str, value: Any) -> Any:
    def change(record: dict[str, Any]) -> None:
        for item in record["disclosures"]:
            if item[1] == name:
                item[2] = value

    return change


def _drop(name: str) -> Any:
    def change(record: dict[str, Any]) -> None:
        record["disclosures"] = [d for d in record["disclosures"] if d[1] != name]

    return change


MUST_FAIL = {
    "a value changed": _set_value("serial", "SN000000"),
    "a null end date for a dated one": _set_value("valid_until", None),
    "a salt changed": lambda r: r["disclosures"][0].__setitem__(0, "0x" + "ff" * 16),
    "a field renamed": lambda r: r["disclosures"][1].__setitem__(1, "holder_names"),
    "a disclosure twice": lambda r: r["disclosures"].append(list(r["disclosures"][1])),
    "a disclosure of four": lambda r: r["disclosures"][0].append(1),
    "an uppercase salt": lambda r: r["disclosures"][9].__setitem__(0, "0x" + "0A" * 16),
    "a name with a capital": lambda r: r["disclosures"][0].__setitem__(1, "Holder"),
    "digests out of order": lambda r: r["digests"].reverse(),
    "a digest twice": lambda r: r["digests"].append(r["digests"][-1]),
    "a digest dropped": lambda r: r["digests"].pop(0),
    "an uppercase digest": lambda r: r["digests"].__setitem__(0, r["digests"][0].upper()),
    "no digests": lambda r: r.__setitem__("digests", []),
    "format 1 named": lambda r: r.__setitem__("format", 1),
    "format as text": lambda r: r.__setitem__("format", "2"),
    "format true": lambda r: r.__setitem__("format", True),
    "an extra member": lambda r: r.__setitem__("salt", "0x" + "00" * 16),
    "no disclosures member": lambda r: r.pop("disclosures"),
    "more disclosures than digests": lambda r: r.__setitem__(
        "disclosures", r["disclosures"] + r["disclosures"]
    ),
    **{f"{name} withheld": _drop(name) for name in sorted(ALWAYS_DISCLOSED)},
}


@pytest.mark.parametrize("case", sorted(MUST_FAIL))
def test_must_fail(case: str) -> None:
    with pytest.raises(DisclosureError):
        open_record(_broken(MUST_FAIL[case]))


def test_a_restricted_field_may_be_withheld() -> None:
    opened = open_record(_broken(_drop("holder_address")))
    assert opened.withheld == 1


def test_commit_wants_a_salt_per_field() -> None:
    salts = dict(VECTOR["salts"])
    salts.pop("serial")
    with pytest.raises(DisclosureError, match="salts"):
        commit(VECTOR["fields"], salts)


def test_a_format_1_record_hashes_as_before() -> None:
    record = {"id": "0x" + "00" * 32, "salt": "0x" + "11" * 16, "kind": "inspection"}
    assert hash_record(record) == hashlib.sha256(canonical_json(record)).digest()
