"""What the governance work's admission adds to a bundle (issue 13; docs/spec.md §8, §9.2).

    python bench/bench_admission.py

A registry built through the service on a temporary SQLite file: the authority admits the
first sample CB with a signed `admit`, the CB issues its sample certificates, one checkpoint is
formed and anchored (without a chain: the bundle's size does not depend on it). Each bundle
then carries `admission` — the authority's signed entry and its inclusion proof. Reported: the
member's bytes in the compact form (docs/spec.md §8.3), split into the entry and the proof, and
the member at 1M and 10M entries, where the proof has one 32-byte hash (34 bytes in CBOR) per
level of the log (`log2(n)` rounded up, as an RFC 9162 inclusion proof of a leaf of a full
tree).
"""

import base64
import datetime as dt
import math
import secrets
import sys
import tempfile
from pathlib import Path

import cbor2
from _common import report

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from anchoring.settings import AnchoringSettings
from api.stack import Stack
from registry.accounts import Actor, Principal, Role
from registry.compact import LABELS, compact_value, encode_bundle
from registry.core.governance import Admit, Scope, sign_statement
from registry.core.hashing import sha256
from registry.core.note import NoteSigner
from registry.db.repositories import CheckpointRepository
from registry.records import CertificateSubmission
from registry.samples import load_samples
from registry.settings import RegistrySettings

_HASH_BYTES = 34  # a 32-byte string in CBOR: one head byte and its length byte
_ADMIN = Principal(
    account_id="0" * 16,
    role=Role.AUTHORITY_ADMIN,
    issuer_id=None,
    name="bench",
    credential="token:bench",
)


def _stack(folder: Path, authority: Ed25519PrivateKey) -> Stack:
    public = authority.public_key().public_bytes_raw()
    signer = NoteSigner(name="bench.certreg/log", private_key=Ed25519PrivateKey.generate())
    registry = RegistrySettings(
        data_dir=folder,
        database_url=f"sqlite:///{folder / 'bench.db'}",
        origin="bench.certreg/log",
        signing_key=SecretStr(signer.skey()),
        key_encryption_key=SecretStr(base64.b64encode(secrets.token_bytes(32)).decode()),
        authority_public_key=base64.b64encode(public).decode(),
    )
    chain = AnchoringSettings(
        chain_id=31337, contract_address="0x5FbDB2315678afecb367f032d93F642f64180aa3"
    )
    return Stack(registry, chain)


def main() -> None:
    authority = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory() as folder:
        stack = _stack(Path(folder), authority)
        try:
            samples = load_samples()
            cb = samples["issuers"][0]
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            admit = Admit(
                issuer_id=cb["id"],
                at=now,
                authority_key_id=sha256(authority.public_key().public_bytes_raw()),
                name_vi=cb["name_vi"],
                name_en=cb["name_en"],
                accreditation_body="BoA",
                accreditation_number=cb["accreditation"],
                scope=Scope(kinds=tuple(cb["kinds"])),
                valid_from=now.date() - dt.timedelta(days=1),
                valid_until=now.date() + dt.timedelta(days=900),
            )
            signed = sign_statement(admit, authority).to_json()
            stack.service.governance.submit(_ADMIN, signed, actor=Actor(via="bench"))
            submissions = [
                CertificateSubmission.model_validate(
                    {k: v for k, v in c.items() if k != "issuer_id"}
                )
                for c in samples["certificates"]
                if c["issuer_id"] == cb["id"]
            ]
            issued = stack.service.issue_batch(cb["id"], submissions)
            stack.builder.prepare()
            with stack.sessions.begin() as session:
                checkpoint = CheckpointRepository(session).latest()
                assert checkpoint is not None
                stack.builder.finalize(
                    session, checkpoint, block_number=1, block_timestamp=1, tx_hash=None
                )
            members, entries, hashes, bundles = [], [], [], []
            label, entry_label = LABELS["admission"], LABELS["entry"]
            for result in issued:
                bundle = stack.assembler.bundle(result.certificate.id).model_dump(mode="json")
                item = compact_value(bundle)[label]
                assert isinstance(item, dict)
                members.append(len(cbor2.dumps(label)) + len(cbor2.dumps(item, canonical=True)))
                entries.append(len(cbor2.dumps(item[entry_label], canonical=True)))
                hashes.append(len(bundle["admission"]["log_inclusion"]["hashes"]))
                bundles.append(len(encode_bundle(bundle)))
        finally:
            stack.close()

    def mean(values: list[int]) -> float:
        return sum(values) / len(values)

    size = checkpoint.tree_size
    report(
        "admission_member",
        size,
        certificates=len(members),
        member_bytes=mean(members),
        entry_bytes=mean(entries),
        proof_hashes=mean(hashes),
        bundle_compact_bytes=mean(bundles),
    )
    fixed = mean(members) - mean(hashes) * _HASH_BYTES
    for n in (1_000_000, 10_000_000):
        levels = math.ceil(math.log2(n))
        report(
            "admission_member_at", n, proof_hashes=levels, member_bytes=fixed + levels * _HASH_BYTES
        )


if __name__ == "__main__":
    main()
