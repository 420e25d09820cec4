"""The message catalogues of the human pages and the printable certificate: one JSON file per
language (`vi.json`, `en.json`) with the same keys, every string a person reads.

The language of a page is `?lang=` if it names one we have, else the best of the browser's
`Accept-Language` that we have, else Vietnamese.
"""

import datetime as dt
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "Translator",
    "catalogue",
    "choose_language",
    "isolate",
    "translator",
]

LANGUAGES: Final = ("vi", "en")
DEFAULT_LANGUAGE: Final = "vi"


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The messages of `lang` (one of `LANGUAGES`)."""
    if lang not in LANGUAGES:
        raise ValueError(f"language: got {lang!r}, want one of {LANGUAGES}")
    text = resources.files(__name__).joinpath(f"{lang}.json").read_text("utf-8")
    messages: dict[str, str] = json.loads(text)
    return messages


def _accepted(header: str) -> list[tuple[float, int, str]]:
    """Accept-Language ranges as (-quality, position, primary subtag), best first."""
    ranges = []
    for position, item in enumerate(header.split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary and quality > 0:
            ranges.append((-quality, position, primary))
    return sorted(ranges)


def choose_language(query: str | None, accept_language: str | None) -> str:
    """`query` (the `lang` parameter) if we have it, else Accept-Language, else Vietnamese."""
    if query is not None and query.lower() in LANGUAGES:
        return query.lower()
    for _, _, primary in _accepted(accept_language or ""):
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


_FSI, _PDI = "\u2068", "\u2069"


def isolate(text: str) -> str:
    """`text` as a bidi isolate of its own direction (Unicode's First Strong Isolate)."""
    return f"{_FSI}{text}{_PDI}"


@dataclass(frozen=True)
class Translator:
    """Messages of one language, with the date and number formats of that language."""

    lang: str

    def __call__(self, key: str, /, **params: object) -> str:
        """The message `key`, with `{name}` placeholders filled from `params`.

        Each value is a bidi isolate (FSI … PDI, the text form of `<bdi>`): a value is data —
        a certificate number someone typed, a holder's name — and a right-to-left override in
        it must not reorder the sentence around it (or the page's title)."""
        message = catalogue(self.lang)[key]
        if not params:
            return message
        return message.format_map({name: isolate(str(value)) for name, value in params.items()})

    def has(self, key: str) -> bool:
        return key in catalogue(self.lang)

    def get(self, key: str, default: str, /, **params: object) -> str:
        """The message `key` if there is one, else `default` (for keys made from data)."""
        return self(key, **params) if self.has(key) else default

    def date(self, value: dt.date | str | None) -> str:
        """`2027-02-26` as `26/02/2027` (vi) or `26 Feb 2027` (en); '' for None."""
        if value is None:
            return ""
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
        if self.lang == "vi":
            return f"{day.day:02d}/{day.month:02d}/{day.year}"
        month = self(f"month.{day.month}")
        return f"{day.day} {month} {day.year}"

    def moment(self, value: dt.datetime) -> str:
        """A UTC time as date and `HH:MM UTC`."""
        utc = value.astimezone(dt.UTC)
        return f"{self.date(utc.date())} {utc:%H:%M} UTC"

    def number(self, value: int) -> str:
        """Thousands grouped as the language writes them: 1.234 (vi), 1,234 (en)."""
        grouped = f"{value:,}"
        return grouped.replace(",", ".") if self.lang == "vi" else grouped


@cache
def translator(lang: str) -> Translator:
    catalogue(lang)  # fail early on an unknown language
    return Translator(lang)
