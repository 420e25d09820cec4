"""The log signer (`anchoring.logsigner`) on the real node: what it checks before it signs, its
HTTP service on 127.0.0.1, the worker asking it over HTTP, and the settings that keep its key
off the anchoring host."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from anchoring.authorisation import recover_signer
from anchoring.client import AnchorClient
from anchoring.deploy import deploy_contract
from anchoring.devnode import dev_account
from anchoring.errors import AuthorisationRefusedError, SettingsError
from anchoring.logsigner import (
    REFUSAL_REASONS,
    HttpAuthoriser,
    LogSigner,
    LogSignerService,
    authoriser_from_settings,
)
from anchoring.metrics import RegistryCollector
from anchoring.settings import AnchoringSettings, LogSignerSettings
from registry.core.checkpoint import Checkpoint, sign_checkpoint
from registry.core.note import NoteSigner
from tests.integration.anchoring.conftest import Stack
from tests.integration.anchoring.test_worker import assert_db_matches_chain, db_checkpoints
from tests.integration.chain_helpers import MAP_ROOT, log_tree
from tests.integration.conftest import CHAIN_ID, Chain
from tests.integration.registry.conftest import admit, sample_submissions

ORIGIN = "test.example/log"


@pytest.fixture
def note_signer() -> NoteSigner:
    return NoteSigner(name=ORIGIN, private_key=Ed25519PrivateKey.generate())


@pytest.fixture
def signer(chain: Chain, note_signer: NoteSigner) -> LogSigner:
    return LogSigner(
        account=chain.accounts.log_signer,
        registry_key=note_signer.verifier(),
        contract=chain.client(chain.accounts.outsider),
        max_growth=1000,
    )


@pytest.fixture
def service(signer: LogSigner) -> Iterator[LogSignerService]:
    with LogSignerService(signer, host="127.0.0.1", port=0) as running:
        yield running


def note(signer: NoteSigner, size: int, *, history: str = "main") -> str:
    """The registry's signed checkpoint of the test log of `size` entries."""
    root = log_tree(size, history=history).root_hash()
    return sign_checkpoint(
        Checkpoint(origin=signer.name, tree_size=size, root_hash=root, map_root=MAP_ROOT), signer
    )


def proof(old: int, new: int) -> list[bytes]:
    return [] if old == 0 else log_tree(new).consistency_proof(size1=old)


class TestChecks:
    def test_signs_a_registry_checkpoint_that_extends_the_chain(
        self, chain: Chain, signer: LogSigner, note_signer: NoteSigner
    ) -> None:
        first = signer.authorise(note=note(note_signer, 5), proof=[])
        assert first.step.previous_tree_size == 0
        assert first.signer == chain.accounts.log_signer.address
        assert recover_signer(chain.anchorer.domain(), first.step, first.signature) == first.signer
        chain.anchorer.anchor(
            tree_size=5,
            log_root=first.step.log_root,
            map_root=MAP_ROOT,
            proof=[],
            authorisation=first.signature,
        )
        later = signer.authorise(note=note(note_signer, 9), proof=proof(5, 9))
        assert (later.step.previous_tree_size, later.step.previous_log_root) == (
            5,
            log_tree(5).root_hash(),
        )
        result = chain.anchorer.anchor(
            tree_size=9,
            log_root=later.step.log_root,
            map_root=MAP_ROOT,
            proof=proof(5, 9),
            authorisation=later.signature,
        )
        assert result.checkpoint.index == 1

    def test_a_successors_first_step_extends_its_start(
        self, chain: Chain, note_signer: NoteSigner
    ) -> None:
        chain.anchorer.anchor(
            tree_size=5, log_root=log_tree(5).root_hash(), map_root=MAP_ROOT, proof=[]
        )
        successor = deploy_contract(
            chain.admin.chain,
            admin=chain.accounts.admin.address,
            predecessor=chain.deployment.address,
            predecessor_index=0,
        )
        admin = AnchorClient(chain.admin.chain, successor.address)
        admin.grant_role("ANCHORER_ROLE", chain.accounts.anchorer.address)
        admin.grant_role("LOG_SIGNER_ROLE", chain.accounts.log_signer.address)
        signer = LogSigner(
            account=chain.accounts.log_signer,
            registry_key=note_signer.verifier(),
            contract=AnchorClient(chain.outsider.chain, successor.address),
        )
        with pytest.raises(AuthorisationRefusedError) as caught:
            signer.authorise(note=note(note_signer, 9), proof=[])  # as if it were the first
        assert caught.value.reason == "inconsistent"
        authorisation = signer.authorise(note=note(note_signer, 9), proof=proof(5, 9))
        assert authorisation.step.previous_tree_size == 5
        sender = AnchorClient(chain.anchorer.chain, successor.address)
        result = sender.anchor(
            tree_size=9,
            log_root=authorisation.step.log_root,
            map_root=MAP_ROOT,
            proof=proof(5, 9),
            authorisation=authorisation.signature,
        )
        assert result.checkpoint.index == 1  # the numbering goes on from the start (index 0)

    def test_refuses_a_note_of_another_key(self, signer: LogSigner) -> None:
        stranger = NoteSigner(name=ORIGIN, private_key=Ed25519PrivateKey.generate())
        with pytest.raises(AuthorisationRefusedError) as caught:
            signer.authorise(note=note(stranger, 5), proof=[])
        assert caught.value.reason == "bad_note"
        assert "want a note the registry signed" in str(caught.value)

    def test_refuses_a_tampered_note(self, signer: LogSigner, note_signer: NoteSigner) -> None:
        text = note(note_signer, 5).replace("\n5\n", "\n6\n", 1)
        with pytest.raises(AuthorisationRefusedError) as caught:
            signer.authorise(note=text, proof=[])
        assert caught.value.reason == "bad_note"

    def test_refuses_what_does_not_grow(
        self, chain: Chain, signer: LogSigner, note_signer: NoteSigner
    ) -> None:
        chain.anchorer.anchor(
            tree_size=5, log_root=log_tree(5).root_hash(), map_root=MAP_ROOT, proof=[]
        )
        for size in (5, 3):
            with pytest.raises(AuthorisationRefusedError) as caught:
                signer.authorise(note=note(note_signer, size), proof=[])
            assert caught.value.reason == "not_growing"
            assert f"got {size}, want more than 5" in str(caught.value)

    def test_refuses_an_inconsistent_extension(
        self, chain: Chain, signer: LogSigner, note_signer: NoteSigner
    ) -> None:
        # The registry's own key signed a fork (say, a thief holds that key too): the signer
        # still checks it against the root on chain, which it read itself.
        chain.anchorer.anchor(
            tree_size=7, log_root=log_tree(7).root_hash(), map_root=MAP_ROOT, proof=[]
        )
        fork = log_tree(12, fork_at=6)
        forged = sign_checkpoint(
            Checkpoint(origin=ORIGIN, tree_size=12, root_hash=fork.root_hash(), map_root=MAP_ROOT),
            note_signer,
        )
        with pytest.raises(AuthorisationRefusedError) as caught:
            signer.authorise(note=forged, proof=fork.consistency_proof(size1=7))
        assert caught.value.reason == "inconsistent"
        with pytest.raises(AuthorisationRefusedError):
            signer.authorise(note=note(note_signer, 12), proof=[])

    def test_refuses_a_proof_for_the_first_checkpoint(
        self, signer: LogSigner, note_signer: NoteSigner
    ) -> None:
        with pytest.raises(AuthorisationRefusedError) as caught:
            signer.authorise(note=note(note_signer, 5), proof=[bytes(32)])
        assert caught.value.reason == "inconsistent"

    def test_refuses_more_growth_than_allowed(
        self, signer: LogSigner, note_signer: NoteSigner
    ) -> None:
        # Never 2^64 - 1, whoever signed the note: the size cannot be made to brick the log.
        big = sign_checkpoint(
            Checkpoint(
                origin=ORIGIN,
                tree_size=2**64 - 1,
                root_hash=hashlib.sha256(b"junk").digest(),
                map_root=MAP_ROOT,
            ),
            note_signer,
        )
        with pytest.raises(AuthorisationRefusedError) as caught:
            signer.authorise(note=big, proof=[])
        assert caught.value.reason == "too_large"
        assert "want at most 1000" in str(caught.value)


class TestService:
    def test_health(self, chain: Chain, service: LogSignerService) -> None:
        answer = requests.get(service.url + "/v1/health", timeout=10).json()
        assert answer == {
            "signer": chain.accounts.log_signer.address,
            "chain_id": CHAIN_ID,
            "contract": chain.deployment.address,
            "holds_log_signer_role": True,
        }

    def test_authorises_over_http(
        self, chain: Chain, service: LogSignerService, note_signer: NoteSigner
    ) -> None:
        authorisation = HttpAuthoriser(service.url).authorise(note=note(note_signer, 5), proof=[])
        assert authorisation.signer == chain.accounts.log_signer.address
        assert authorisation.step.tree_size == 5
        chain.anchorer.anchor(
            tree_size=5,
            log_root=authorisation.step.log_root,
            map_root=MAP_ROOT,
            proof=[],
            authorisation=authorisation.signature,
        )

    def test_refusal_comes_back_with_its_reason(
        self, service: LogSignerService, note_signer: NoteSigner
    ) -> None:
        response = requests.post(
            service.url + "/v1/authorise",
            json={"note": note(note_signer, 5), "consistency_proof": ["0x" + "00" * 32]},
            timeout=10,
        )
        assert response.status_code == 409
        assert response.json()["reason"] == "inconsistent"
        with pytest.raises(AuthorisationRefusedError) as caught:
            HttpAuthoriser(service.url).authorise(note="not a note\n", proof=[])
        assert caught.value.reason == "bad_note"

    @pytest.mark.parametrize(
        "body",
        [
            b"{",
            b'{"note": "x"}',
            b'{"note": "x", "consistency_proof": ["0x12"]}',
            b'{"note": "x", "consistency_proof": [], "extra": 1}',
        ],
    )
    def test_malformed_requests_are_400(self, service: LogSignerService, body: bytes) -> None:
        response = requests.post(service.url + "/v1/authorise", data=body, timeout=10)
        assert response.status_code == 400
        assert response.json()["reason"] == "bad_request"

    def test_oversized_and_unknown(self, service: LogSignerService) -> None:
        big = requests.post(service.url + "/v1/authorise", data=b"x" * 70_000, timeout=10)
        assert big.status_code == 400
        assert requests.get(service.url + "/v1/authorise", timeout=10).status_code == 404
        assert requests.post(service.url + "/v1/health", timeout=10).status_code == 404

    def test_unreachable_signer(self, signer: LogSigner) -> None:
        with LogSignerService(signer, host="127.0.0.1", port=0) as stopped:
            url = stopped.url
        with pytest.raises(AuthorisationRefusedError) as caught:
            HttpAuthoriser(url, timeout_s=5).authorise(note="x\n", proof=[])
        assert caught.value.reason == "unavailable"

    def test_worker_counts_a_refusal_and_says_it_at_error_level(
        self, stack: Stack, signer: LogSigner, caplog: pytest.LogCaptureFixture
    ) -> None:
        # `signer` pins another registry key than the one the stack's checkpoints carry.
        admit(stack.service)
        stack.service.issue_batch("vn-cb-quatest3", sample_submissions()[:3])
        worker = stack.worker(authoriser_factory=lambda: signer)
        with pytest.raises(AuthorisationRefusedError) as caught:
            worker.run_until_idle()
        assert caught.value.reason == "bad_note"
        assert worker.refusals == {"bad_note": 1}
        [refused] = [r for r in caplog.records if "checkpoint.refused" in r.getMessage()]
        assert refused.levelno == logging.ERROR
        [family] = [
            m
            for m in RegistryCollector(stack.sessions, worker=lambda: worker).collect()
            if m.name == "certreg_log_signer_refusals"
        ]
        counts = {s.labels["reason"]: s.value for s in family.samples if s.name.endswith("_total")}
        assert counts == {reason: float(reason == "bad_note") for reason in REFUSAL_REASONS}
        assert db_checkpoints(stack)[0].state == "prepared"

    def test_a_signer_answering_an_unknown_reason_counts_as_unavailable(self) -> None:
        class Odd(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.dumps({"reason": "x" * 40, "detail": "?"}).encode()
                self.send_response(409)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        with ThreadingHTTPServer(("127.0.0.1", 0), Odd) as server:
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            try:
                url = f"http://127.0.0.1:{server.server_address[1]}"
                with pytest.raises(AuthorisationRefusedError) as caught:
                    HttpAuthoriser(url, timeout_s=5).authorise(note="x\n", proof=[])
            finally:
                server.shutdown()
        assert caught.value.reason == "unavailable"

    def test_worker_asks_the_service(self, stack: Stack) -> None:
        signer = LogSigner(
            account=stack.chain.accounts.log_signer,
            registry_key=stack.signer.verifier(),
            contract=stack.chain.client(stack.chain.accounts.outsider),
        )
        with LogSignerService(signer, host="127.0.0.1", port=0) as service:
            admit(stack.service)
            submissions = sample_submissions()
            worker = stack.worker(authoriser_factory=lambda: HttpAuthoriser(service.url))
            for batch in (submissions[:3], submissions[3:]):
                stack.service.issue_batch("vn-cb-quatest3", batch)
                worker.run_until_idle()
        assert [c.tree_size for c in db_checkpoints(stack)] == [3, len(submissions)]
        assert_db_matches_chain(stack)


class TestSettings:
    def _chain(self, **values: object) -> AnchoringSettings:
        return AnchoringSettings.model_validate({"rpc_url": "http://127.0.0.1:9", **values})

    def test_worker_with_a_url_asks_over_http(self, note_signer: NoteSigner) -> None:
        settings = self._chain(chain_id=7, log_signer_url="http://10.0.0.5:8547")
        authoriser = authoriser_from_settings(settings, registry_key=note_signer.verifier())
        assert authoriser == HttpAuthoriser("http://10.0.0.5:8547", timeout_s=30.0)

    def test_worker_refuses_the_signer_key_off_dev_chains(self, note_signer: NoteSigner) -> None:
        settings = self._chain(
            chain_id=7,
            log_signer_url="http://10.0.0.5:8547",
            log_signer_key=SecretStr("0x" + "5d" * 32),
        )
        with pytest.raises(SettingsError, match="want it only in the `certreg log-signer`"):
            authoriser_from_settings(settings, registry_key=note_signer.verifier())

    def test_worker_needs_a_signer(self, note_signer: NoteSigner) -> None:
        with pytest.raises(SettingsError, match="CERTREG_LOG_SIGNER_URL: got nothing"):
            authoriser_from_settings(self._chain(chain_id=7), registry_key=note_signer.verifier())

    def test_in_process_signer_on_a_dev_chain(self, chain: Chain, note_signer: NoteSigner) -> None:
        settings = AnchoringSettings(
            rpc_url=chain.node.url,
            chain_id=CHAIN_ID,
            contract_address=chain.deployment.address,
            log_signer_key=SecretStr("0x" + bytes(chain.accounts.log_signer.key).hex()),
        )
        authoriser = authoriser_from_settings(settings, registry_key=note_signer.verifier())
        assert isinstance(authoriser, LogSigner)
        assert authoriser.holds_role()

    def test_service_settings_need_key_and_registry_key(self, chain: Chain) -> None:
        chain_settings = AnchoringSettings(
            rpc_url=chain.node.url, chain_id=CHAIN_ID, contract_address=chain.deployment.address
        )
        with pytest.raises(SettingsError, match="CERTREG_LOG_SIGNER_KEY: got nothing"):
            LogSigner.from_settings(LogSignerSettings(_env_file=None), chain_settings)
        keyed = LogSignerSettings(_env_file=None, log_signer_key=SecretStr("0x" + "5d" * 32))
        with pytest.raises(SettingsError, match="CERTREG_REGISTRY_VKEY: got nothing"):
            LogSigner.from_settings(keyed, chain_settings)

    def test_service_refuses_a_hardhat_key_off_dev_chains(self) -> None:
        well_known = "0x" + bytes(dev_account(0).key).hex()
        with pytest.raises(ValueError, match="CERTREG_LOG_SIGNER_KEY: got Hardhat's well-known"):
            LogSignerSettings(_env_file=None, chain_id=7, log_signer_key=SecretStr(well_known))
