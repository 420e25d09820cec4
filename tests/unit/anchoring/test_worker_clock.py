"""The worker reads time only from its injected clock: waiting for an account's pending
transactions is bounded by the chain's receipt timeout, measured on that clock."""

from dataclasses import dataclass
from typing import Any, cast

from anchoring.client import AnchorClient
from anchoring.worker import AnchoringWorker, WorkerConfig
from tests.clock import ManualClock


@dataclass
class StuckChain:
    """An account with transactions in the node's pool that are never mined (until told)."""

    waiting: list[int]
    address: str = "0x" + "11" * 20
    receipt_timeout_s: float = 30.0
    poll_interval_s: float = 2.0
    asked: int = 0

    def waiting_transactions(self) -> int:
        self.asked += 1
        return self.waiting[min(self.asked, len(self.waiting)) - 1]


@dataclass
class Client:
    chain: StuckChain


def worker(clock: ManualClock) -> AnchoringWorker:
    unused: Any = None
    return AnchoringWorker(
        engine=unused,
        sessions=unused,
        builder=unused,
        client_factory=unused,
        authoriser_factory=unused,
        config=WorkerConfig(),
        clock=clock,
    )


def test_waiting_for_pending_transactions_gives_up_at_the_receipt_timeout() -> None:
    clock = ManualClock()
    chain = StuckChain(waiting=[2])
    worker(clock)._await_pending(cast(AnchorClient, Client(chain)))
    assert clock.monotonic() == 30.0
    assert clock.slept == [2.0] * 15
    assert chain.asked == 16


def test_waiting_ends_as_soon_as_the_pool_is_empty() -> None:
    clock = ManualClock()
    chain = StuckChain(waiting=[1, 1, 0])
    worker(clock)._await_pending(cast(AnchorClient, Client(chain)))
    assert clock.slept == [2.0, 2.0]
