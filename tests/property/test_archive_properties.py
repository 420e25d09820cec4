"""Whatever the certificate numbers, a batch's file names are safe to unpack anywhere and
distinct even on a case-insensitive disk."""

import re

from hypothesis import given
from hypothesis import strategies as st

from api.web.archive import MAX_STEM, file_names

_SAFE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*\.pdf")
# What a number may hold (no controls, / ? #), with extra weight on what folds together.
_SPECIAL = ["Đ", "đ", "D", "d", "ộ", "\u0323", "\u0302", "O", ".", "-", "_", " ", "\\", ":", "a"]
characters = st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from(_SPECIAL)
numbers = st.text(alphabet=characters, min_size=1, max_size=100).filter(
    lambda n: not set(n) & set("/?#")
)
ids = st.sampled_from("0123456789abcdef").map(lambda d: "0x" + d * 64) | st.from_regex(
    r"0x[0-9a-f]{64}", fullmatch=True
)


@given(st.dictionaries(ids, numbers | st.sampled_from(["QT-Đ1", "qt-d1", "QT-D1"]), max_size=20))
def test_names_are_safe_and_distinct(certificates: dict[str, str]) -> None:
    names = file_names(list(certificates.items()))
    assert len({name.casefold() for name in names}) == len(certificates)
    for name in names:
        assert _SAFE.fullmatch(name), name
        assert len(name) <= MAX_STEM + len("-ffffffff-99.pdf")
