"""The local development chain: start `hardhat-node/start-node.js` and stop it again.

Used by the integration tests' session fixture, by `bench/bench_gas.py` and by `make run`.
It installs nothing: `make install` runs `npm ci` in hardhat-node first.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

from eth_account import Account
from eth_account.signers.local import LocalAccount

from anchoring.errors import ChainConnectionError
from anchoring.settings import HARDHAT_MNEMONIC

__all__ = [
    "HARDHAT_DIR",
    "HARDHAT_MNEMONIC",
    "HardhatNode",
    "dev_account",
    "free_port",
    "start_hardhat_node",
]

HARDHAT_DIR: Final = Path(__file__).resolve().parent.parent / "hardhat-node"
_READY: Final = "certreg-hardhat-node ready "


def dev_account(index: int) -> LocalAccount:
    """Account `index` of the Hardhat node (BIP-44 path m/44'/60'/0'/0/index)."""
    Account.enable_unaudited_hdwallet_features()
    account: LocalAccount = Account.from_mnemonic(
        HARDHAT_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}"
    )
    return account


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class HardhatNode:
    """A running node; `stop()` (or leaving the `with` block) ends it and its children."""

    url: str
    chain_id: int
    port: int
    process: subprocess.Popen[str]
    log_path: Path
    _log: IO[str] = field(repr=False)

    def __enter__(self) -> HardhatNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        """The end of the node's output, for error messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM to the node's own process group (start script and Hardhat), then SIGKILL."""
        if self.process.poll() is None:
            # The group was created for this node alone (start_new_session), so this reaches
            # exactly the processes we started.
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout_s)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
        self._log.close()


def start_hardhat_node(
    *,
    port: int | None = None,
    chain_id: int = 31337,
    interval_ms: int = 0,
    base_fee_wei: int | None = None,
    log_path: Path | None = None,
    timeout_s: float = 60.0,
    hardhat_dir: Path = HARDHAT_DIR,
) -> HardhatNode:
    """Start a node on 127.0.0.1 and return once it answers JSON-RPC with `chain_id`.

    `interval_ms` > 0 mines a block every so many milliseconds instead of one per
    transaction. The node's output goes to `log_path` (default: a temporary file).
    """
    script = hardhat_dir / "start-node.js"
    if not (hardhat_dir / "node_modules" / "hardhat").is_dir():
        raise ChainConnectionError(
            f"{hardhat_dir}/node_modules: got no Hardhat, want it installed (`make install`)"
        )
    port = port or free_port()
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix="hardhat-node-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    log = log_path.open("w", encoding="utf-8")
    command = ["node", str(script), "--port", str(port), "--chain-id", str(chain_id)]
    command += ["--interval-ms", str(interval_ms), "--timeout-s", str(int(timeout_s))]
    # The node stops when our end of its stdin closes: if this process dies without calling
    # stop() (a crash, a kill), the kernel closes the pipe and no node is left behind.
    command += ["--stop-on-stdin-close"]
    if base_fee_wei is not None:
        command += ["--base-fee", str(base_fee_wei)]
    process = subprocess.Popen(  # noqa: S603 - fixed command, our own script
        command,
        cwd=hardhat_dir,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,
    )
    node = HardhatNode(
        url=f"http://127.0.0.1:{port}",
        chain_id=chain_id,
        port=port,
        process=process,
        log_path=log_path,
        _log=log,
    )
    assert process.stdout is not None
    # The start script prints exactly one line, when the node answers, and exits non-zero
    # (closing stdout) if it does not within its own timeout: this read cannot hang forever.
    line = process.stdout.readline()
    if not line.startswith(_READY):
        node.stop()
        raise ChainConnectionError(
            f"hardhat node on port {port}: got {line.strip()!r}, want {_READY.strip()!r}; "
            f"log ({log_path}):\n{node.log_tail()}"
        )
    return node
