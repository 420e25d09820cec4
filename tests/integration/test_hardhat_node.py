"""The local node's start script: chain id, interval mining, zero base fee, port handling, stop."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
import requests
from web3 import Web3

from anchoring.devnode import HardhatNode, start_hardhat_node
from anchoring.errors import ChainConnectionError


def test_options_reach_the_node() -> None:
    with start_hardhat_node(chain_id=1337, interval_ms=100, base_fee_wei=0) as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        assert node.url.startswith("http://127.0.0.1:")
        assert w3.eth.chain_id == 1337
        # Interval mining: blocks come without any transaction.
        start = w3.eth.block_number
        deadline = time.monotonic() + 10
        while w3.eth.block_number < start + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert w3.eth.block_number >= start + 2
        assert w3.eth.get_block("latest")["baseFeePerGas"] == 0
        assert w3.eth.get_block("latest")["gasLimit"] > 0
    assert node.process.poll() is not None
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(
            node.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=2
        )


def test_defaults_automine(hardhat_node: HardhatNode) -> None:
    w3 = Web3(Web3.HTTPProvider(hardhat_node.url))
    assert w3.eth.chain_id == 31337
    assert w3.provider.make_request("hardhat_getAutomine", [])["result"] is True  # type: ignore[arg-type]


def test_port_in_use_is_refused(hardhat_node: HardhatNode) -> None:
    with pytest.raises(ChainConnectionError, match="already in use"):
        start_hardhat_node(port=hardhat_node.port)


def test_node_stops_when_its_owner_dies() -> None:
    # A process that starts a node and dies without stopping it (as a crashed test run would).
    program = (
        "import os\n"
        "from anchoring.devnode import start_hardhat_node\n"
        "node = start_hardhat_node()\n"
        "print(node.port, flush=True)\n"
        "os._exit(1)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=90, check=False
    )
    port = int(done.stdout.strip())
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"the orphaned node on port {port} is still listening")
