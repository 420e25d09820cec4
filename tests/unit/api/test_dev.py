"""`certreg dev` (what `make run` runs) when its port is taken, say by another `make run`: one
line that names the port, exit 1, at once — before any chain, contract or data is touched."""

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api.cli import app
from api.dev import ensure_port_free, port_taken


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port of 127.0.0.1 that a server listens on, as the first `make run`'s API would."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_port_taken(taken_port: int) -> None:
    assert port_taken(taken_port)
    assert not port_taken(free_port())


def test_ensure_port_free_says_which_port_in_one_line(
    taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(typer.Exit) as raised:
        ensure_port_free(taken_port, "the API")
    assert raised.value.exit_code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert f"port {taken_port} on 127.0.0.1 is already in use" in lines[0]
    assert "another `make run`" in lines[0]


def test_ensure_port_free_is_silent_on_a_free_port(capsys: pytest.CaptureFixture[str]) -> None:
    ensure_port_free(free_port(), "the API")
    assert capsys.readouterr() == ("", "")


def test_a_second_certreg_dev_stops_at_once(
    taken_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("CERTREG_DATA_DIR", str(data))
    result = CliRunner().invoke(app, ["dev", "--port", str(taken_port)])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""  # no "chain: …", no "API: http://…"
    assert result.stderr.strip().startswith(f"certreg dev: port {taken_port} on 127.0.0.1")
    assert len(result.stderr.splitlines()) == 1
    assert not data.exists()
