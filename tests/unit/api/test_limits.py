"""The rate limiter's arithmetic and the client address it is keyed by (api/limits.py)."""

import pytest

from api.limits import RateLimiter, client_address, parse_networks
from tests.clock import ManualClock

PROXIES = parse_networks(["10.0.0.0/8", "fd00::/8"])


class TestClientAddress:
    def test_without_trusted_proxies_the_peer_is_the_client(self) -> None:
        # Anyone can send X-Forwarded-For: believed, it would be a fresh bucket per request.
        assert client_address("203.0.113.9", "198.51.100.1", ()) == "address:203.0.113.9"

    def test_an_untrusted_peer_forwarding_is_ignored(self) -> None:
        assert client_address("203.0.113.9", "198.51.100.1", PROXIES) == "address:203.0.113.9"

    def test_a_trusted_proxy_names_the_client(self) -> None:
        assert client_address("10.1.2.3", "198.51.100.1", PROXIES) == "address:198.51.100.1"

    def test_the_first_untrusted_hop_from_the_right_is_the_client(self) -> None:
        # The leftmost entries are whatever the client wrote itself; the proxies appended theirs.
        forwarded = "1.2.3.4, 198.51.100.1, 10.9.9.9"
        assert client_address("10.1.2.3", forwarded, PROXIES) == "address:198.51.100.1"

    def test_a_chain_of_proxies_only_names_the_innermost_hop(self) -> None:
        assert client_address("10.1.2.3", "10.2.2.2, 10.3.3.3", PROXIES) == "address:10.2.2.2"

    def test_a_malformed_hop_stops_at_the_last_proxy(self) -> None:
        assert client_address("10.1.2.3", "198.51.100.1, junk", PROXIES) == "address:10.1.2.3"

    def test_ipv6_clients_share_their_64(self) -> None:
        one = client_address("2001:db8:1:2::1", None, ())
        other = client_address("2001:db8:1:2:ffff::9", None, ())
        assert one == other == "address:2001:db8:1:2::/64"
        assert client_address("2001:db8:1:3::1", None, ()) != one

    def test_ipv4_mapped_addresses_are_ipv4(self) -> None:
        assert client_address("::ffff:203.0.113.9", None, ()) == "address:203.0.113.9"

    @pytest.mark.parametrize("peer", [None, "", "testclient", "not an address"])
    def test_an_unknown_peer_has_one_shared_bucket(self, peer: str | None) -> None:
        assert client_address(peer, "198.51.100.1", PROXIES) == "address:unknown"


class TestRateLimiter:
    def test_burst_then_rate(self) -> None:
        clock = ManualClock()
        limiter = RateLimiter(rate=2.0, burst=3, monotonic=clock.monotonic)
        assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
        assert limiter.take("k") == pytest.approx(0.5)
        clock.advance(0.5)
        assert limiter.take("k") == 0.0

    def test_charge_after_the_fact_is_bounded_by_the_burst(self) -> None:
        clock = ManualClock()
        limiter = RateLimiter(rate=1.0, burst=4, monotonic=clock.monotonic)
        assert limiter.wait("k") == 0.0
        limiter.charge("k", 1_000)  # one request that turned out costly
        # It pays back at most a burst's worth (down to -4), then one more to get a token.
        assert limiter.wait("k") == pytest.approx(5.0)
        clock.advance(5.0)
        assert limiter.wait("k") == 0.0

    def test_charging_nothing_creates_no_bucket(self) -> None:
        limiter = RateLimiter(rate=1.0, burst=1)
        limiter.charge("k", 0)
        assert len(limiter) == 0

    def test_buckets_are_per_key(self) -> None:
        clock = ManualClock()
        limiter = RateLimiter(rate=1.0, burst=1, monotonic=clock.monotonic)
        assert limiter.take("a") == 0.0
        assert limiter.take("a") > 0
        assert limiter.take("b") == 0.0


def test_trusted_proxies_must_be_networks() -> None:
    from pydantic import ValidationError  # noqa: PLC0415

    from api.settings import ApiSettings  # noqa: PLC0415

    assert ApiSettings(trusted_proxies=["10.0.0.0/8", "192.0.2.1"]).trusted_proxies
    with pytest.raises(ValidationError, match="want an IP address or CIDR block"):
        ApiSettings(trusted_proxies=["proxy.example"])
