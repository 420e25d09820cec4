"""Imports and a CB that requires review (docs/spec.md §11.12, §11.13), both databases: the
upload is the preparation and the confirmation the decision, so another officer confirms; the
runner then issues even though direct issuance is refused."""

import pytest

from registry.errors import ForbiddenError
from registry.fields import CertificateKind
from registry.samples import typed_samples
from registry.service import RegistryService
from registry.sheets import rows_csv
from tests.integration.registry.test_drafts import A, World, world

__all__ = ["world"]  # the fixture, imported for this module's tests


def _file(n: int) -> tuple[CertificateKind, bytes]:
    sample = next(s for s in typed_samples() if s["issuer_id"] == A)
    rows = [
        {**{k: v for k, v in sample.items() if k != "issuer_id"}, "number": f"REV-{i:03d}"}
        for i in range(n)
    ]
    return CertificateKind(sample["kind"]), rows_csv(rows, sample["kind"])


def test_another_officer_confirms_when_the_cb_requires_review(world: World) -> None:
    service: RegistryService = world.service
    world.review(True)
    kind, data = _file(5)
    job = service.imports.upload(A, kind=kind, filename="rev.csv", data=data, actor=world.preparer)
    assert job.valid == 5
    with pytest.raises(ForbiddenError, match="another officer"):
        service.imports.confirm(A, job.id, actor=world.preparer)
    service.imports.confirm(A, job.id, actor=world.reviewer)
    done = service.imports.run(job.id, actor=world.reviewer)
    assert (done.state, done.issued) == ("done", 5)
    # Direct issuance stays refused for the same CB.
    with pytest.raises(ForbiddenError, match="requires review"):
        service.issue_batch(A, [world.submission()], actor=world.preparer)


def test_without_review_the_uploader_confirms(world: World) -> None:
    service: RegistryService = world.service
    kind, data = _file(3)
    job = service.imports.upload(A, kind=kind, filename="own.csv", data=data, actor=world.preparer)
    service.imports.confirm(A, job.id, actor=world.preparer)
    assert service.imports.run(job.id).issued == 3
