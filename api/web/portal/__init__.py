"""The portal: server-rendered pages for the people of certification bodies and of the
authority (docs/architecture.md, "The portal"), in Vietnamese and English, without script.

- `signin`: sign in and out, and a first password with a setup token;
- `certificates`: the dashboard of a CB's certificates, a certificate's page, and its
  lifecycle actions (suspend, reinstate, withdraw) through a confirmation step;
- `account`: the signed-in person's password and second factor (TOTP);
- `drafts`: drafts and the second person's decision (submit, approve, reject, withdraw), and
  the CB's setting that requires it;
- `imports`: spreadsheets of certificates, uploaded, checked, mapped, confirmed, followed;
- `issue`: issuing a typed certificate through a form per kind, checked and reviewed, and a
  certificate's replacement (supersede, correct and reissue) through the same form;
- `admin`: accounts, API tokens and signing keys for a CB's admins; the CBs for the authority.

Every page authenticates as the JSON API does and calls the same registry functions, which
decide who may do what. A request that is not signed in is sent to the sign-in page, and an
error is an HTML page (`api.web.HtmlErrorPages`).
"""

from fastapi import APIRouter

from api.web.portal import account, admin, certificates, drafts, imports, issue, signin
from api.web.portal.auth import PORTAL, sign_in_redirect

__all__ = ["PORTAL", "router", "sign_in_redirect"]

router = APIRouter(include_in_schema=False)
router.include_router(signin.router)
router.include_router(account.router)
router.include_router(imports.router)
router.include_router(drafts.router)
router.include_router(admin.router)  # before certificates' /portal/certificates/{id}/{action}
router.include_router(issue.router)  # before certificates' /portal/certificates/{id}/{action}
router.include_router(certificates.router)
