"""End-to-end fixtures: one Hardhat node for the session, and registries served by real
`certreg serve` processes (see `harness.py`).

`registry` is shared by the modules that only add certificates of their own (lifecycle, bad
input, tampering, schemathesis); a module that corrupts its registry on purpose (the audit)
starts its own with `start_registry`. Every server is stopped by the fixture that started it,
and a server that logged an error (an unhandled exception is a 500) fails the run at teardown,
as does one whose log holds any of its secrets (`start_registry`).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from anchoring.devnode import HardhatNode, start_hardhat_node
from tests.e2e.harness import CHAIN_ID, Accounts, RunningRegistry, certreg, start_registry


@pytest.fixture(scope="session")
def hardhat() -> Iterator[HardhatNode]:
    node = start_hardhat_node(chain_id=CHAIN_ID)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def accounts() -> Accounts:
    return Accounts()


@pytest.fixture(scope="session")
def registry(
    hardhat: HardhatNode, accounts: Accounts, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningRegistry]:
    """A registry on SQLite with the anchoring worker, shared by the session's read-mostly
    modules; each test issues certificates of its own under fresh numbers."""
    with start_registry(
        hardhat,
        tmp_path_factory.mktemp("e2e-shared"),
        accounts,
        # A small body limit (a bundle is ~3 KB), so the oversize uploads stay small too.
        extra_env={"CERTREG_MAX_BODY_BYTES": str(64 * 1024)},
    ) as running:
        yield running
        errors = running.server_errors()
    assert not errors, "the server logged errors:\n" + "\n".join(errors[:20])


@pytest.fixture(scope="session")
def authority_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """The authority's key file, public key and vkey, made as the authority makes them
    (`certreg authority keygen`): the governance modules' authority."""
    home = tmp_path_factory.mktemp("authority")
    made = certreg(
        "authority", "keygen", "--out", str(home / "authority.pem"), "--name", "stameq.test",
        "--json", env={}, cwd=home,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert (home / "authority.pem").stat().st_mode & 0o777 == 0o600
    assert made.json()["vkey"].startswith("stameq.test+")
    return home / "authority.pem", made.json()["public_key"], made.json()["vkey"]
