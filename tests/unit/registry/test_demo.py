"""`certreg demo` runs on the registry's own rules: the history it shows is one the spec allows."""

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.core.errors import LifecycleError
from registry.core.events import EventType
from registry.core.ids import certificate_id_for
from registry.demo import _Registry, run_demo
from registry.samples import load_samples


def test_ids_are_the_registrys_and_the_log_replays_to_the_checkpoint() -> None:
    out = run_demo()
    samples = load_samples()["certificates"]
    withdrawn = samples[3]
    assert out["proved"]["certificate_id"] == certificate_id_for(
        issuer_id=withdrawn["issuer_id"], number=withdrawn["number"]
    )
    assert out["replayed_map_root"].startswith("0x")
    assert out["proved"]["verdict"] == "WITHDRAWN"


def test_the_old_demo_history_is_refused() -> None:
    # The demo used to issue the last sample and then "supersede" the fifth with it: a
    # supersede must introduce a new certificate, and apply_event refuses it.
    samples = load_samples()
    registry = _Registry(
        keys={i["id"]: Ed25519PrivateKey.generate() for i in samples["issuers"]},
        at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
    )
    ids = [registry.issue(c) for c in samples["certificates"]]
    for certificate_id in ids:
        registry.append(EventType.ISSUE, certificate_id)
    with pytest.raises(LifecycleError, match="want a certificate not in the log yet"):
        registry.append(EventType.SUPERSEDE, ids[-1], supersedes=ids[4])
