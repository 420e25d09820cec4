"""The line of contracts a registry has anchored in, each succeeding the one before it
(docs/spec.md §7.7), and which of them to ask about a checkpoint index.

A successor holds the checkpoint it starts from at that checkpoint's index and anchors from
the next index on, so index `i` names one checkpoint across the whole line: the newest contract
holding `i` answers `checkpoint(i)`, and the contract that anchored it is the newest whose own
range contains `i` (for a successor's start: its predecessor). The newest contract answers the
latest checkpoint and, resolving through its predecessors, the issuer keys.

Walking the line reads `predecessor()` of each contract that carries our code; a contract that
does not (an earlier version, which could not succeed anything) ends the line as its first. A
link counts only if the predecessor's authority vouches for the successor (the successor's
`defaultAdmin` holds `DEFAULT_ADMIN_ROLE` on the predecessor): anyone can deploy our contract
naming the registry's as its predecessor, and must not thereby become the registry's newest.
Nothing here decides whom to trust: `line_through` finds the line joining a pinned contract and
one a bundle names, and says when there is none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Final

from eth_utils.address import to_checksum_address

from anchoring.client import AnchorClient
from anchoring.errors import AnchoringError, ArtifactError
from anchoring.models import Checkpoint

__all__ = ["MAX_LINE", "Line", "Member", "SuccessionError", "line_from", "line_through"]

#: contracts in one line at most: a registry moves for a new version or after a compromise
MAX_LINE: Final = 16


class SuccessionError(AnchoringError):
    """The contracts do not form a line of successions."""


@dataclass(frozen=True)
class Member:
    """One contract of a line; `start` is the index of its predecessor's checkpoint it starts
    from (None for a first contract)."""

    client: AnchorClient
    start: int | None

    @property
    def address(self) -> str:
        return self.client.address

    def holds(self, index: int) -> bool:
        """Whether `checkpoint(index)` here can answer (its start included)."""
        return self.start is None or index >= self.start

    def anchored(self, index: int) -> bool:
        """Whether a checkpoint at `index` would have been anchored by this contract."""
        return self.start is None or index > self.start


@dataclass(frozen=True)
class Line:
    """Contracts newest first, back to a first contract."""

    members: tuple[Member, ...]

    def __post_init__(self) -> None:
        if not self.members:
            raise SuccessionError("line: got no contract, want at least one")

    @property
    def newest(self) -> AnchorClient:
        return self.members[0].client

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(m.address for m in self.members)

    @cached_property
    def _lowered(self) -> frozenset[str]:
        return frozenset(m.address.lower() for m in self.members)

    def contains(self, address: str) -> bool:
        return address.lower() in self._lowered

    def holder(self, index: int) -> AnchorClient:
        """The newest contract that holds checkpoint `index`."""
        for member in self.members:
            if member.holds(index):
                return member.client
        return self.members[-1].client

    def anchored_in(self, index: int) -> AnchorClient:
        """The contract whose transaction anchored checkpoint `index`."""
        for member in self.members:
            if member.anchored(index):
                return member.client
        return self.members[-1].client

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint of the line, each from the newest contract holding it, read at one
        block (as `AnchorClient.checkpoints` reads one contract's)."""
        newest = self.newest
        block = newest.chain.w3.eth.block_number
        count = newest.checkpoint_count(block=block)
        found = [self.holder(i).checkpoint(i, block=block) for i in range(count)]
        return [c for c in found if c is not None]

    def to_json(self) -> list[dict[str, object]]:
        """Newest first: each contract and the index of its predecessor's checkpoint it starts
        from (`GET /v1/registry`)."""
        out: list[dict[str, object]] = []
        for i, member in enumerate(self.members):
            following = self.members[i + 1].address if i + 1 < len(self.members) else None
            out.append(
                {"contract": member.address, "predecessor": following, "start_index": member.start}
            )
        return out


def _ours(client: AnchorClient) -> bool:
    try:
        client.check_code()
    except ArtifactError:
        return False
    return True


def _vouched(
    successor: AnchorClient, predecessor: AnchorClient, on_read: Callable[[], None]
) -> bool:
    """Whether the predecessor's authority stands behind the successor: the successor's
    authority (`defaultAdmin`) holds `DEFAULT_ADMIN_ROLE` on the predecessor. Anyone can deploy
    our contract naming any predecessor; only the authority can be admin of both."""
    on_read()
    admin = successor.default_admin()
    on_read()
    return predecessor.has_role("DEFAULT_ADMIN_ROLE", admin)


def line_from(client: AnchorClient, *, on_read: Callable[[], None] = lambda: None) -> Line:
    """`client`'s contract and its predecessors, back to a first contract. `on_read` is called
    before each chain read (the verifier counts them)."""
    members: list[Member] = []
    current = client
    while True:
        if any(m.address.lower() == current.address.lower() for m in members):
            raise SuccessionError(f"contract {current.address}: got a line that loops back")
        on_read()
        predecessor = current.predecessor() if _ours(current) else None
        if predecessor is not None:
            on_read()
            older = AnchorClient(current.chain, predecessor.contract, artifact=current.artifact)
            if not _vouched(current, older, on_read):
                predecessor = None
        members.append(Member(current, None if predecessor is None else predecessor.index))
        if predecessor is None:
            return Line(tuple(members))
        if len(members) >= MAX_LINE:
            raise SuccessionError(
                f"contract {client.address}: got a line of more than {MAX_LINE} contracts, "
                f"want at most {MAX_LINE}"
            )
        current = older


def line_through(
    pinned: Line, named: str, *, on_read: Callable[[], None] = lambda: None
) -> Line | None:
    """The whole line joining the `pinned` contract's line (`line_from` of the pinned
    contract) and the contract `named` (a bundle's), newest first, or None if none does:
    `named` must be on the pinned line, or succeed its newest contract, with our code."""
    if pinned.contains(named):
        return pinned
    # A contract without our code (or without any) ends its own line at once: it never
    # reaches the pinned one.
    newest = pinned.newest
    candidate = AnchorClient(
        newest.chain, to_checksum_address(named.lower()), artifact=newest.artifact
    )
    named_line = line_from(candidate, on_read=on_read)
    return named_line if named_line.contains(newest.address) else None
