"""The web edge's pure parts: language choice, message catalogues, QR digests, presentation of
records and verdicts, the stylesheet's contrast, and the PDF font check."""

import colorsys
import datetime as dt
import json
import re
import typing
import unicodedata
from html import unescape
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from api.schemas import ReasonCode
from api.web.i18n import LANGUAGES, catalogue, choose_language, translator
from api.web.pages import environment
from api.web.pdf import FontMissingError, register_fonts
from api.web.portal.certificates import ACTIONS, REASONS
from api.web.present import (
    IssuerInfo,
    Outcome,
    check_views,
    details,
    outcome_of,
    registered_hash,
    verdict_view,
)
from api.web.qr import digest, group_digest, parse_digest, qr_code, verification_url
from registry.accounts import Role
from registry.core.canonical import canonical_hash
from registry.core.events import EventType
from registry.core.governance import Custody
from registry.core.verify import CHECK_NAMES, Check, CheckStatus, Verdict, VerdictStatus
from registry.records import CertificateKind
from tests.bundles import World, sample

TEMPLATES = Path(str(resources.files("api.web").joinpath("templates")))
CSS = Path(str(resources.files("api.web").joinpath("static/verify.css")))


class TestLanguage:
    @pytest.mark.parametrize(
        ("query", "header", "expected"),
        [
            (None, None, "vi"),
            ("en", None, "en"),
            ("EN", "vi", "en"),
            ("vi", "en-GB,en;q=0.9", "vi"),
            ("fr", "en-GB,en;q=0.9", "en"),  # an unknown ?lang= falls back to the header
            (None, "fr-FR,fr;q=0.9,en;q=0.8,vi;q=0.7", "en"),
            (None, "fr-FR, vi;q=0.5, en;q=0.4", "vi"),
            (None, "en;q=0, vi", "vi"),  # q=0 means "not this one"
            (None, "de, fr", "vi"),
            (None, "en;q=abc, vi;q=0.1", "vi"),  # a malformed quality counts as 0
            (None, ";;;,,,", "vi"),
        ],
    )
    def test_choose(self, query: str | None, header: str | None, expected: str) -> None:
        assert choose_language(query, header) == expected

    def test_dates_and_numbers(self) -> None:
        vi, en = translator("vi"), translator("en")
        day = dt.date(2027, 2, 6)
        assert vi.date(day) == "06/02/2027"
        assert en.date("2027-02-06") == "6 Feb 2027"
        assert vi.number(1234567) == "1.234.567"
        assert en.number(1234567) == "1,234,567"
        assert en.moment(dt.datetime(2026, 11, 25, 9, 5, tzinfo=dt.UTC)) == "25 Nov 2026 09:05 UTC"


def _fields(message: str) -> list[str]:
    return sorted(set(re.findall(r"\{(\w+)\}", message)))


class TestCatalogues:
    def test_same_keys_and_placeholders(self) -> None:
        vi, en = catalogue("vi"), catalogue("en")
        assert vi.keys() == en.keys()
        for key in vi:
            assert _fields(vi[key]) == _fields(en[key]), key

    def test_translated_not_copied(self) -> None:
        vi, en = catalogue("vi"), catalogue("en")
        same = {k for k in vi if vi[k] == en[k]}
        # Only names that are the same in both languages: the language names, units.
        assert same <= {"lang.vi", "lang.en", "unit.kb", "unit.mb"}, same

    def test_every_key_the_templates_use_exists(self) -> None:
        used = set()
        for template in TEMPLATES.rglob("*.html"):
            # literal keys only: a key made from data (`t('kind.' ~ k)`) is checked by name
            text = template.read_text()
            used |= set(re.findall(r"""\bt\(\s*['"]([a-z0-9_.\-]+)['"]\s*[,)]""", text))
        assert used
        for lang in LANGUAGES:
            assert used <= catalogue(lang).keys(), used - catalogue(lang).keys()

    def test_every_check_status_outcome_kind_and_reason_has_words(self) -> None:
        keys = [f"verdict.{o.value}.{part}" for o in Outcome for part in ("title", "summary")]
        for name in CHECK_NAMES:
            keys.append(f"check.{name}.title")
            keys += [f"check.{name}.{status.value}" for status in CheckStatus]
        keys += [f"check.status.{status.value}" for status in CheckStatus]
        keys += [f"kind.{kind.value}" for kind in CertificateKind]
        keys += [f"reason.{code}" for code in typing.get_args(ReasonCode)]
        keys += [
            f"status.{s}" for s in ("valid", "suspended", "withdrawn", "superseded", "expired")
        ]
        keys += [f"month.{m}" for m in range(1, 13)]
        for lang in LANGUAGES:
            missing = [k for k in keys if k not in catalogue(lang)]
            assert not missing, (lang, missing)

    def test_every_key_the_portal_makes_from_data_exists(self) -> None:
        keys = [f"portal.role.{role.value}" for role in Role]
        keys += [
            f"portal.action.{action}.{part}"
            for action in ACTIONS
            for part in ("button", "title", "intro", "warning", "confirm", "done")
        ]
        offered = {code for codes in REASONS.values() for code in codes}
        assert offered <= set(typing.get_args(ReasonCode))  # codes the JSON API accepts
        keys += [f"portal.keys.custody.{custody.value}" for custody in Custody]
        keys += [f"portal.keys.state.{s}" for s in ("proposed", "active", "retired", "revoked")]
        keys += [f"portal.filter.field.{f}" for f in ("number", "holder", "tax_code")]
        keys += [
            f"portal.issuers.status.{s}" for s in ("none", "admitted", "suspended", "withdrawn")
        ]
        keys += [f"portal.event.{kind.value}" for kind in EventType]
        keys += [
            f"portal.nav.{n}" for n in ("certificates", "accounts", "tokens", "keys", "issuers")
        ]
        for lang in LANGUAGES:
            missing = [k for k in keys if k not in catalogue(lang)]
            assert not missing, (lang, missing)

    def test_catalogue_files_are_sorted_json(self) -> None:
        for lang in LANGUAGES:
            text = resources.files("api.web.i18n").joinpath(f"{lang}.json").read_text("utf-8")
            data = json.loads(text)
            assert list(data) == sorted(data)


class TestQr:
    def test_digest_and_url(self) -> None:
        record_hash = bytes.fromhex("8fbd488f2e8033dc" + "00" * 24)
        assert digest(record_hash) == "8fbd488f2e8033dc"
        assert group_digest("8fbd488f2e8033dc") == "8fbd 488f 2e80 33dc"
        url = verification_url("https://v.example/", "0x" + "ab" * 32, record_hash)
        assert url == f"https://v.example/verify/0x{'ab' * 32}?d=8fbd488f2e8033dc"
        with pytest.raises(ValueError, match="32"):
            digest(b"short")

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("8fbd488f2e8033dc", "8fbd488f2e8033dc"),
            ("8FBD 488F 2E80 33DC", "8fbd488f2e8033dc"),
            ("8fbd488f2e8033d", None),
            ("8fbd488f2e8033dcz", None),
            ("", None),
        ],
    )
    def test_parse_digest(self, text: str, expected: str | None) -> None:
        assert parse_digest(text) == expected

    def test_the_code_is_small_enough_for_a_label(self) -> None:
        url = verification_url(
            "https://verify.registry.example.gov.vn", "0x" + "ab" * 32, b"\0" * 32
        )
        version = qr_code(url).version
        assert isinstance(version, int)
        assert version <= 8


def _verdict(status: VerdictStatus, *checks: Check) -> Verdict:
    return Verdict(status=status, checks=checks)


class TestPresent:
    def test_outcomes(self) -> None:
        assert outcome_of(_verdict(VerdictStatus.VALID)) is Outcome.VALID
        assert outcome_of(_verdict(VerdictStatus.INVALID)) is Outcome.INVALID
        error = Check("checkpoint_anchored", CheckStatus.ERROR, "chain_unavailable", "down")
        assert outcome_of(_verdict(VerdictStatus.UNCONFIRMED, error)) is Outcome.UNAVAILABLE
        passed = Check("certificate_status", CheckStatus.PASSED, "not_issued", "none")
        assert outcome_of(_verdict(VerdictStatus.UNKNOWN, passed)) is Outcome.NOT_FOUND
        assert outcome_of(_verdict(VerdictStatus.STALE)) is Outcome.STALE
        assert outcome_of(_verdict(VerdictStatus.PENDING)) is Outcome.PENDING
        # every verdict has a page outcome
        assert {outcome_of(_verdict(s)) for s in VerdictStatus} <= set(Outcome)

    def test_registered_hash_prefers_the_anchored_leaf(self) -> None:
        record = {"id": "0x" + "11" * 32, "number": "A"}
        leaf_hash = "0x" + "22" * 32
        bundle: dict[str, Any] = {
            "certificate_id": record["id"],
            "record": record,
            "status_proof": {"leaf": {"record_hash": leaf_hash}},
            "event": {"certificate_id": record["id"], "record_hash": "0x" + "33" * 32},
        }
        assert registered_hash(bundle) == bytes.fromhex("22" * 32)
        bundle["status_proof"] = None
        assert registered_hash(bundle) == bytes.fromhex("33" * 32)
        bundle["event"] = None
        assert registered_hash(bundle) == canonical_hash(record)
        assert registered_hash({"record": None}) is None

    def test_details_of_a_decomposed_bilingual_record(self) -> None:
        record = {
            "id": "0x" + "ab" * 32,
            "issuer_id": "vn-lab-songhong",
            "number": "VILAS-1",
            "kind": "calibration",
            "holder": {"name": unicodedata.normalize("NFD", "Công ty Đồng hồ")},
            "subject": {
                "serial": "SN1",
                "instrument_en": "Water meter",
                "instrument_vi": "Đồng hồ nước",
                "custom_field": 3,
            },
            "valid_from": "2026-01-02",
        }
        shown = details(record, issuer=None, t=translator("en"), record_hash=b"\x01" * 32)
        assert shown.kind == "Calibration certificate"
        assert shown.holder[0].value == "Công ty Đồng hồ"  # NFC
        assert [(r.key, r.value) for r in shown.subject] == [
            ("instrument", "Water meter"),
            ("serial", "SN1"),
            ("custom_field", "3"),
        ]
        assert shown.subject[2].label == "Custom field"
        assert shown.digest == "0101 0101 0101 0101"
        assert shown.dates[2].value == "No end date"
        vietnamese = details(record, issuer=None, t=translator("vi"), record_hash=None)
        assert vietnamese.subject[0].value == "Đồng hồ nước"
        assert vietnamese.digest is None

    @pytest.mark.parametrize(
        "record",
        [
            {},
            {"holder": 5, "subject": [1, 2], "standards": "ISO 9001", "valid_from": 7},
            {"holder": {"name": None}, "subject": {"x": {"deep": [1]}}, "attachments": ["a"]},
            {"number": "x" * 10_000, "kind": "astrology", "valid_until": "2026-13-40"},
        ],
    )
    def test_details_of_malformed_records_do_not_crash(self, record: dict[str, object]) -> None:
        for lang in LANGUAGES:
            shown = details(record, issuer=None, t=translator(lang), record_hash=None)
            assert len(shown.number) <= 500


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_stylesheet_colour_pairs_meet_wcag_aa() -> None:
    css = CSS.read_text()
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6});", css))
    pairs = [
        (name[: -len("-fg")], colours[name], colours[name[:-3] + "-bg"])
        for name in colours
        if name.endswith("-fg")
    ]
    pairs += [
        ("ink on page", colours["ink"], colours["page"]),
        ("ink on card", colours["ink"], colours["card"]),
        ("muted on card", colours["muted"], colours["card"]),
        ("muted on page", colours["muted"], colours["page"]),
        ("link on card", colours["link"], colours["card"]),
        ("link on page", colours["link"], colours["page"]),
        ("button", "#ffffff", colours["link"]),
    ]
    assert len(pairs) >= 14
    for name, fg, bg in pairs:
        assert _contrast(fg, bg) >= 4.5, f"{name}: {fg} on {bg} is {_contrast(fg, bg):.2f}:1"
    # The verdict tones are told apart by hue too, not only by lightness.
    hues = {
        tone: colorsys.rgb_to_hls(
            *(int(colours[f"{tone}-bg"][i : i + 2], 16) / 255 for i in (1, 3, 5))
        )[0]
        for tone in ("ok", "bad", "warn", "info")
    }
    assert len({round(h, 1) for h in hues.values()}) == 4, hues


def test_missing_fonts_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(FontMissingError, match=r"DejaVuSans\.ttf.*fonts-dejavu-core"):
        register_fonts(tmp_path)


class TestKeyCustody:
    """The verification page names the custody of the certificate's signing key as the
    verdict checked the authority's approval of it (docs/spec.md §9.2), and words each failure
    of that approval."""

    @staticmethod
    def _page(lang: str, custody: Custody | None, *, drop_approval: bool = False) -> str:
        world = World()
        issuer_id = sample("inspection")["issuer_id"]
        world.admit(issuer_id)
        if custody is not None:
            world.approve_key(issuer_id, custody)
        cid = world.issue(sample("inspection"))
        world.checkpoint()
        bundle = world.bundle(cid)
        if drop_approval:
            bundle.pop("key_approval", None)
        verdict = world.verify(bundle)
        t = translator(lang)
        issuer = IssuerInfo(
            id=issuer_id,
            name_vi="Tổ chức",
            name_en="Body",
            accreditation="VICAS 001",
            key_custody=verdict.key_custody,
            key_approval_seq=verdict.key_approval_seq,
        )
        shown = details(bundle["record"], issuer=issuer, t=t, record_hash=registered_hash(bundle))
        outcome = outcome_of(verdict)
        return (
            environment()
            .get_template("verify.html")
            .render(
                lang=lang,
                t=t,
                title="x",
                languages=[],
                css_url="",
                lang_query=f"lang={lang}",
                verdict=verdict_view(outcome, verdict, bundle, shown, t),
                details=shown,
                checks=check_views(verdict, bundle, shown, t),
                checkpoint=None,
                open_checks=False,
                qr=None,
                successor=None,
                predecessor=None,
                links={},
                note=None,
                live=False,
            )
        )

    @pytest.mark.parametrize("lang", ["vi", "en"])
    @pytest.mark.parametrize("custody", [Custody.HELD, Custody.HOSTED])
    def test_the_custody_is_shown(self, lang: str, custody: Custody) -> None:
        html = self._page(lang, custody)
        # entries 0 and 1: the admission, then the key's approval
        sentence = translator(lang)(f"issuer.key.{custody.value}", seq=1)
        assert sentence in unescape(html)
        assert f'data-key-custody="{custody.value}"' in html

    @pytest.mark.parametrize("lang", ["vi", "en"])
    def test_a_missing_approval_is_worded_and_no_custody_shown(self, lang: str) -> None:
        html = self._page(lang, Custody.HELD, drop_approval=True)
        assert "data-key-custody" not in html
        words = catalogue(lang)["check.issuer_key_registered.missing_key_approval"]
        assert words in unescape(html)

    def test_the_sentences(self) -> None:
        vi, en = catalogue("vi"), catalogue("en")
        assert vi["issuer.key.held"].startswith("Khóa ký do tổ chức chứng nhận tự giữ")
        assert en["issuer.key.hosted"].startswith("Signing key hosted by the registry")
        for code in (
            "missing_key_approval",
            "malformed_key_approval",
            "key_approval_mismatch",
            "key_approval_not_included",
            "authority_signature_invalid",
        ):
            assert f"check.issuer_key_registered.{code}" in vi


class TestStatusSetByAuthority:
    """The verification page says when the authority, not the issuer, suspended or withdrew
    the certificate (docs/spec.md §9.2 `certificate_status` with `authority_action`), and words
    each failure of that action."""

    @staticmethod
    def _page(lang: str, action: str, *, pinned: bool = True) -> tuple[str, int, str]:
        world = World()
        issuer_id = sample("inspection")["issuer_id"]
        world.admit(issuer_id)
        world.approve_key(issuer_id)
        cid = world.issue(sample("inspection"))
        world.withdraw_issuer(issuer_id)
        reason = "Tổ chức bị thu hồi chỉ định"
        if action == "suspended":
            entry = world.suspend_certificate(cid, reason)
        else:
            entry = world.withdraw_certificate(cid, reason)
        world.checkpoint()
        world.pin_authority = pinned
        bundle = world.bundle(cid)
        verdict = world.verify(bundle)
        assert verdict.authority_action_seq == entry.seq
        t = translator(lang)
        shown = details(bundle["record"], issuer=None, t=t, record_hash=registered_hash(bundle))
        outcome = outcome_of(verdict)
        assert outcome.value == action
        html = (
            environment()
            .get_template("verify.html")
            .render(
                lang=lang,
                t=t,
                title="x",
                languages=[],
                css_url="",
                lang_query=f"lang={lang}",
                verdict=verdict_view(outcome, verdict, bundle, shown, t),
                details=shown,
                checks=check_views(verdict, bundle, shown, t),
                checkpoint=None,
                open_checks=False,
                qr=None,
                successor=None,
                predecessor=None,
                links={},
                note=None,
                live=False,
            )
        )
        return unescape(html), entry.seq, reason

    @pytest.mark.parametrize("lang", ["vi", "en"])
    @pytest.mark.parametrize("action", ["suspended", "withdrawn"])
    def test_the_page_names_the_authority(self, lang: str, action: str) -> None:
        html, seq, reason = self._page(lang, action)
        t = translator(lang)
        assert t(f"verdict.by_authority.{action}", seq=t.number(seq), reason=reason) in html
        assert t(f"verdict.{action}.summary_authority") in html
        assert t(f"verdict.{action}.summary") not in html  # not "its issuer has …"
        assert t("verdict.by_authority.unchecked") not in html
        assert "data-by-authority" in html

    def test_the_words(self) -> None:
        def text(html: str) -> str:
            return html.replace("\u2068", "").replace("\u2069", "")  # values are bidi-isolated

        html, seq, reason = self._page("vi", "withdrawn")
        assert f"Cơ quan quản lý đã thu hồi chứng nhận này (mục nhật ký {seq}): {reason}" in text(
            html
        )
        html, seq, reason = self._page("en", "suspended")
        assert f"Suspended by the authority (log entry {seq}): {reason}" in text(html)

    @pytest.mark.parametrize("lang", ["vi", "en"])
    def test_not_pinned_the_page_says_the_signature_was_not_checked(self, lang: str) -> None:
        html, seq, reason = self._page(lang, "withdrawn", pinned=False)
        t = translator(lang)
        assert t("verdict.by_authority.withdrawn", seq=t.number(seq), reason=reason) in html
        assert t("verdict.by_authority.unchecked") in html

    def test_every_failure_has_words(self) -> None:
        for lang in LANGUAGES:
            words = catalogue(lang)
            for code in (
                "malformed_authority_action",
                "authority_action_mismatch",
                "authority_action_not_included",
                "authority_signature_invalid",
            ):
                assert f"check.certificate_status.{code}" in words, (lang, code)


class TestTransferred:
    """The verification page says when the certificate's events are those of the CB the
    authority transferred it to (docs/spec.md §9.2 `issuer_signature` with `transfer`), names
    that CB as the signer, and words each failure of the transfer."""

    ORIGINAL = IssuerInfo(
        id="vn-cb-quatest3", name_vi="Trung tâm Kỹ thuật 3", name_en="Quatest 3", accreditation="A"
    )

    @staticmethod
    def _page(
        lang: str,
        *,
        pinned: bool = True,
        names: bool = True,
        supersede: bool = False,
    ) -> tuple[str, int, str]:
        world = World()
        first, second = sample("regulation-conformity"), sample("regulation-conformity", 1)
        original, receiving = first["issuer_id"], second["issuer_id"]
        assert original == TestTransferred.ORIGINAL.id
        world.admit(original)
        world.approve_key(original)
        cid = world.issue(first)
        world.admit(receiving)
        world.approve_key(receiving)
        entry = world.transfer_certificate(cid, receiving)
        if supersede:
            world.supersede(cid, {**second, "number": "R-2027-001"})
        else:
            world.append(EventType.SUSPEND, cid, reason="Tạm đình chỉ")
        world.checkpoint()
        world.pin_authority = pinned
        bundle = world.bundle(cid)
        verdict = world.verify(bundle)
        t = translator(lang)
        receiving_info = IssuerInfo(
            id=receiving, name_vi="Tổ chức nhận", name_en="Receiving body", accreditation="B"
        )
        shown = details(
            bundle["record"],
            issuer=TestTransferred.ORIGINAL if names else None,
            t=t,
            record_hash=registered_hash(bundle),
            transferred_to=receiving_info if names else None,
        )
        outcome = outcome_of(verdict)
        html = (
            environment()
            .get_template("verify.html")
            .render(
                lang=lang,
                t=t,
                title="x",
                languages=[],
                css_url="",
                lang_query=f"lang={lang}",
                verdict=verdict_view(outcome, verdict, bundle, shown, t),
                details=shown,
                checks=check_views(verdict, bundle, shown, t),
                checkpoint=None,
                open_checks=False,
                qr=None,
                successor=None,
                predecessor=None,
                links={},
                note=None,
                live=False,
            )
        )
        return unescape(html), entry.seq, receiving

    @staticmethod
    def _text(html: str) -> str:
        return html.replace("\u2068", "").replace("\u2069", "")  # values are bidi-isolated

    @pytest.mark.parametrize("lang", ["vi", "en"])
    def test_the_page_names_both_cbs(self, lang: str) -> None:
        html, seq, _ = self._page(lang)
        t = translator(lang)
        receiving = "Tổ chức nhận" if lang == "vi" else "Receiving body"
        original = self.ORIGINAL.name(lang)
        assert (
            t("verdict.transferred", original=original, receiving=receiving, seq=t.number(seq))
            in html
        )
        assert "data-transferred" in html
        # the signature check names the CB that signed the event, not the record's
        assert t("check.issuer_signature.passed", issuer=receiving) in html

    def test_the_words(self) -> None:
        html, seq, _ = self._page("vi")
        html = self._text(html)
        assert (
            f"Chứng nhận do Trung tâm Kỹ thuật 3 cấp, được cơ quan quản lý chuyển giao cho "
            f"Tổ chức nhận (mục nhật ký {seq})"
        ) in html
        html, seq, _ = self._page("en")
        html = self._text(html)
        assert (
            f"Issued by Quatest 3, transferred by the authority to Receiving body (log entry {seq})"
        ) in html

    def test_without_names_the_ids(self) -> None:
        html, seq, receiving = self._page("en", names=False)
        html = self._text(html)
        assert (
            f"Issued by {self.ORIGINAL.id}, transferred by the authority to {receiving} "
            f"(log entry {seq})"
        ) in html

    @pytest.mark.parametrize("lang", ["vi", "en"])
    def test_superseded_by_the_receiving_cb(self, lang: str) -> None:
        html, _, _ = self._page(lang, supersede=True)
        t = translator(lang)
        assert t("verdict.superseded.summary_transferred") in html
        assert t("verdict.superseded.summary") not in html  # not "from the same issuer"

    def test_not_pinned_no_transfer_is_claimed(self) -> None:
        html, _, _ = self._page("en", pinned=False)
        assert "transferred by the authority" not in html
        assert "data-transferred" not in html

    def test_every_failure_has_words(self) -> None:
        for lang in LANGUAGES:
            words = catalogue(lang)
            for code in (
                "malformed_transfer",
                "transfer_mismatch",
                "transfer_not_included",
                "authority_signature_invalid",
                "unexpected_proof",
            ):
                assert f"check.issuer_signature.{code}" in words, (lang, code)
