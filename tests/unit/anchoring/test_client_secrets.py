"""An RPC URL's credentials never reach an error message (and so never a log)."""

import pytest
from web3 import HTTPProvider, Web3

from anchoring.client import ChainClient, redact_endpoint, scrub
from anchoring.devnode import dev_account, free_port
from anchoring.errors import ChainConnectionError


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:s3cret@rpc.example:8545/", "https://rpc.example:8545"),
        ("https://mainnet.example/v3/APIKEY123", "https://mainnet.example/…"),
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
        ("https://rpc.example/?token=APIKEY123", "https://rpc.example/…"),
        ("not a url", "the node"),
    ],
)
def test_endpoints_are_shown_without_credentials(url: str, shown: str) -> None:
    assert redact_endpoint(url) == shown


def test_a_node_that_does_not_answer_is_reported_without_the_secret() -> None:
    port = free_port()  # nothing listens there
    url = f"http://operator:s3cret@127.0.0.1:{port}/v3/APIKEY123?token=T0KEN"
    w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": 2}))
    client = ChainClient(w3, dev_account(0), chain_id=31337, poll_interval_s=0.01)
    with pytest.raises(ChainConnectionError) as info:
        client.check_chain_id()
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message  # still says where
    for secret in ("s3cret", "operator", "APIKEY123", "T0KEN"):
        assert secret not in message, message


def test_transport_messages_lose_paths_and_userinfo() -> None:
    text = (
        "HTTPConnectionPool(host='rpc.example', port=443): Max retries exceeded with url: "
        "/v3/APIKEY123 (Caused by ...) proxy http://u:p@proxy.example"
    )
    assert "APIKEY123" not in scrub(text)
    assert "u:p@" not in scrub(text)
