"""`make run` as a newcomer runs it (on free ports and a data folder of the test's own): it
starts, a certificate issued through it is anchored, and Ctrl-C stops everything — API, worker
and the Hardhat node it started — cleanly, with no traceback."""

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx2
import pytest

from anchoring.devnode import free_port
from api.dev import port_taken
from tests.e2e.harness import base_env

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def test_make_run_starts_anchors_and_stops_cleanly(tmp_path: Path) -> None:
    api_port, chain_port = free_port(), free_port()
    data = tmp_path / "data"
    log_path = tmp_path / "make-run.log"
    args = f"RUN_ARGS=--port {api_port} --chain-port {chain_port} --interval 0.5"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "run", args],
            cwd=REPO,
            env=base_env() | {"CERTREG_DATA_DIR": str(data)},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: Ctrl-C goes to all of it
        )
    url = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.monotonic() + 120
        while not _ready(url):
            assert process.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.2)
        output = log_path.read_text(errors="replace")
        assert f"API: {url}" in output
        assert "on chain id 31337" in output
        assert "registry key fingerprint: SHA256:" in output

        key = (data / "demo-api-key.txt").read_text(encoding="utf-8").strip()
        body = json.loads((REPO / "docs" / "examples" / "certificate.json").read_text())
        with httpx2.Client(base_url=url, timeout=30) as http:
            created = http.post(
                "/v1/certificates", json=body, headers={"Authorization": f"Bearer {key}"}
            )
            assert created.status_code == 201, created.text
            certificate_id = created.json()["id"]
            # The demo issuer was admitted as the authority admits one: a signed statement.
            (admission,) = http.get("/v1/admissions").json()["admissions"]
            assert admission["issuer_id"] == created.json()["issuer_id"]
            authority = (data / "demo-authority-token.txt").read_text(encoding="utf-8").strip()
            me = http.get("/v1/me", headers={"Authorization": f"Bearer {authority}"}).json()
            assert me["account"]["role"] == "authority_admin"
            # The portal: the demo officer signs in with the printed login and password and
            # sees the CB's typed sample certificates.
            logins = (data / "demo-portal-logins.txt").read_text(encoding="utf-8").splitlines()
            login, password = next(line for line in logins if "cb_officer" in line).split()[:2]
            form = http.get("/portal/login")
            token = re.search(r'name="form_token" value="([^"]+)"', form.text)
            assert token is not None, form.text
            signed = http.post(
                "/portal/login",
                data={"login": login, "password": password, "form_token": token.group(1)},
                follow_redirects=False,
            )
            assert signed.status_code == 303, signed.text
            assert "VICAS-2024-00001" in http.get("/portal").text
            http.cookies.clear()
            deadline = time.monotonic() + 60
            while http.get(f"/v1/certificates/{certificate_id}/proof").json()["status"] != (
                "ANCHORED"
            ):
                assert time.monotonic() < deadline, "not anchored in 60 s"
                time.sleep(0.2)
    finally:
        # Ctrl-C, as a person stops it: SIGINT to the whole foreground group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
    output = log_path.read_text(errors="replace")
    assert "Traceback" not in output, output[-3000:]
    assert '"level": "error"' not in output, output[-3000:]
    assert not port_taken(api_port), "the API still listens"
    deadline = time.monotonic() + 10
    while port_taken(chain_port):  # the node it started is stopped on the way out
        assert time.monotonic() < deadline, "the Hardhat node still listens"
        time.sleep(0.1)


def _ready(url: str) -> bool:
    try:
        return httpx2.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx2.HTTPError:
        return False
