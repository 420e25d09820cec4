"""The one `Verifier`: a bundle in, a `Verdict` out, with what `VALID` promises kept at every
default (docs/spec.md §9): pinned trust roots, the chain read from one or more endpoints that
must agree, and a bundle older than the chain's latest checkpoint refreshed from a status
source, else `STALE`.

The decisions are the pure core's (`registry.core.verify`); this module only does the reads.
"""

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from registry.clock import utc_now
from registry.core.errors import CoreError
from registry.core.verify import (
    ParsedBundle,
    TrustAnchors,
    Verdict,
    chain_query,
    compose,
    needs_refresh,
    verify_bundle,
)
from verifier.chain import ChainReader, ChainUnavailableError, waiting_allowed
from verifier.refresh import HttpStatusSource, RefreshError, StatusSource

if TYPE_CHECKING:
    from verifier.trust import TrustEntry, TrustStore

__all__ = ["Verifier"]


class Verifier:
    """Verifies bundles for one pinned registry. Thread-safe; keep one per process."""

    def __init__(
        self,
        *,
        trust: TrustAnchors,
        chain: ChainReader | None,
        status_source: StatusSource | None,
        offline_reason: str | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.trust = trust
        self.chain = chain
        self.status_source = status_source
        self._offline_reason = offline_reason
        self._clock = clock

    @classmethod
    def offline(cls, trust: TrustAnchors) -> "Verifier":
        """Checks what needs no chain; every verdict is UNCONFIRMED at best."""
        return cls(trust=trust, chain=None, status_source=None)

    @classmethod
    def for_chain(
        cls,
        trust: TrustAnchors,
        *,
        rpc: Sequence[str],
        status_source: StatusSource | None,
        clock: Callable[[], dt.datetime] = utc_now,
        no_rpc: str = "no RPC endpoint to read the chain from",
    ) -> "Verifier":
        """Reads the chain from every URL in `rpc` (they must agree); with none, every verdict
        is UNCONFIRMED and says `no_rpc`."""
        if not rpc:
            return cls(
                trust=trust,
                chain=None,
                status_source=status_source,
                offline_reason=no_rpc,
                clock=clock,
            )
        reader = ChainReader.for_urls(rpc, contract=trust.contract, chain_id=trust.chain_id)
        return cls(trust=trust, chain=reader, status_source=status_source, clock=clock)

    @classmethod
    def from_trust_entry(
        cls,
        entry: "TrustEntry",
        *,
        rpc: Sequence[str] = (),
        registry_url: str | None = None,
        offline: bool = False,
    ) -> "Verifier":
        """Trust roots from `entry`; RPC endpoints from `rpc`, else the entry's; fresh statuses
        from `registry_url`, else the entry's registry URL (a place to fetch from, never a
        source of trust)."""
        trust = TrustAnchors(
            registry_key=entry.note_verifier(),
            chain_id=entry.chain_id,
            contract=entry.contract,
            authority_key=entry.authority_key(),
        )
        if offline:
            return cls.offline(trust)
        url = registry_url or entry.registry_url
        source = None if url is None else HttpStatusSource(url)
        return cls.for_chain(
            trust,
            rpc=list(rpc) or list(entry.rpc),
            status_source=source,
            no_rpc=f"no RPC endpoint is pinned for {entry.origin}: run "
            f"'certreg trust add {entry.registry_url or 'URL'} --rpc RPC_URL'",
        )

    @classmethod
    def from_trust_store(
        cls,
        store: "TrustStore | None" = None,
        *,
        origin: str | None = None,
        rpc: Sequence[str] = (),
        registry_url: str | None = None,
        offline: bool = False,
    ) -> "Verifier":
        """The entry for `origin` (or the only one) of `store` (default: the user's)."""
        from verifier.trust import TrustStore  # noqa: PLC0415 (pydantic only when used)

        store = store or TrustStore.load()
        entry = store.select(origin)
        return cls.from_trust_entry(entry, rpc=rpc, registry_url=registry_url, offline=offline)

    def verify(self, bundle: object) -> Verdict:
        """The verdict on `bundle` (plain JSON)."""
        today = self._clock().astimezone(dt.UTC).date()
        if self.chain is None:
            return verify_bundle(
                bundle,
                trust=self.trust,
                chain=None,
                today=today,
                chain_error=self._offline_reason,
            )
        raw, bundle = bundle, ParsedBundle(bundle)  # parsed once for the three steps
        try:
            facts = self.chain.facts(chain_query(bundle))
        except ChainUnavailableError as exc:
            return verify_bundle(
                bundle, trust=self.trust, chain=None, today=today, chain_error=str(exc)
            )
        fresh = source_name = fresh_error = None
        if needs_refresh(bundle, facts):
            assert isinstance(raw, Mapping)
            source = self.status_source
            if source is None:
                fresh_error = "no registry or mirror URL to fetch a fresh status from"
            else:
                source_name = source.name
                waiting_allowed()  # a fresh status is a read that waits
                try:
                    certificate_id = str(raw.get("certificate_id"))
                    fresh = source.fetch(certificate_id)
                    more = self.chain.facts(chain_query(compose(raw, fresh)))
                    facts = facts.merged(more)
                except RefreshError as exc:
                    fresh, fresh_error = None, str(exc)
                except CoreError:
                    pass  # not a status document: the core says why
                except ChainUnavailableError as exc:
                    return verify_bundle(
                        bundle, trust=self.trust, chain=None, today=today, chain_error=str(exc)
                    )
        return verify_bundle(
            bundle,
            trust=self.trust,
            chain=facts,
            today=today,
            fresh=fresh,
            fresh_source=source_name,
            fresh_error=fresh_error,
        )
