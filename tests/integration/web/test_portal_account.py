"""The portal's own-account page (docs/security.md §8): a new password, then one-time codes
turned on with the QR code's secret and off again, each through its form."""

import re
import time

import pyotp
from fastapi.testclient import TestClient

from api.stack import Stack
from tests.integration.web.test_portal import PASSWORD, People, _text, people, sign_in, signed_in

__all__ = ["people"]  # the fixture, imported for this module's tests

NEW = "một mật khẩu mới dài hơn 2026"


def test_a_new_password_then_one_time_codes(
    client: TestClient, stack: Stack, people: People
) -> None:
    csrf = signed_in(client, people.officer)
    page = client.get("/portal/account?lang=en")
    assert page.status_code == 200 and 'data-totp="off"' in page.text
    url = "/portal/account/password?lang=en"
    differ = client.post(
        url, data={"csrf_token": csrf, "current": PASSWORD, "new": NEW, "again": NEW + "x"}
    )
    assert differ.status_code == 400 and "The two new passwords differ." in _text(differ)
    wrong = client.post(url, data={"csrf_token": csrf, "current": "sai", "new": NEW, "again": NEW})
    assert wrong.status_code == 403 and "current" in _text(wrong)
    changed = client.post(
        url,
        data={"csrf_token": csrf, "current": PASSWORD, "new": NEW, "again": NEW},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    client.cookies.clear()
    assert sign_in(client, people.officer).status_code != 303  # the old password
    assert sign_in(client, people.officer, password=NEW).status_code == 303

    page = client.get("/portal/account?lang=en")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    token = found.group(1)
    begun = client.post("/portal/account/totp?lang=en", data={"csrf_token": token})
    assert begun.status_code == 200 and "<svg" in begun.text
    secret = re.search(r"data-secret>([A-Z2-7]+)<", begun.text)
    assert secret is not None
    bad = client.post(
        "/portal/account/totp/confirm?lang=en", data={"csrf_token": token, "code": "000000"}
    )
    assert bad.status_code == 403
    on = client.post(
        "/portal/account/totp/confirm?lang=en",
        data={"csrf_token": token, "code": pyotp.TOTP(secret.group(1)).now()},
        follow_redirects=False,
    )
    assert on.status_code == 303
    assert 'data-totp="on"' in client.get("/portal/account?lang=en").text
    client.cookies.clear()
    assert sign_in(client, people.officer, password=NEW).status_code != 303  # a code is needed
    # The next step's code: each step's code signs in once, and confirming used this one.
    code = pyotp.TOTP(secret.group(1)).at(time.time() + 30)
    assert sign_in(client, people.officer, password=NEW, totp_code=code).status_code == 303
