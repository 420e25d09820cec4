"""canonical_json's fast path (the C JSON encoder) writes exactly what rfc8785 writes."""

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.core.canonical import canonical_json, normalize
from registry.core.errors import CanonicalizationError

# Every code point, lone surrogates included (rfc8785 refuses them; so must we), with extra weight
# on what the encoders treat specially: controls, quote, backslash, DEL, U+2028, characters just
# below and above U+FFFF (where UTF-16 and code-point key orders part), and NFD Vietnamese.
_SPECIAL = [chr(c) for c in range(0x20)] + ['"', "\\", "/", "\x7f", "\u2028", "\u2029"]
_SPECIAL += ["\ue000", "\uff41", "\uffff", "\U00010000", "\U0001f600", "\U0010ffff"]
_SPECIAL += ["\u0301", "\u0302", "\u00e9", "\u1ebf", "e", "o"]  # NFD and NFC Vietnamese
characters = st.characters(categories=None) | st.sampled_from(_SPECIAL)
texts = st.text(alphabet=characters, max_size=12)
safe_ints = st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
scalars = st.none() | st.booleans() | safe_ints | texts
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(texts, inner, max_size=5),
    max_leaves=25,
)


def reference(value: object) -> bytes | None:
    """rfc8785 over the normalised value; None where it (or normalisation) refuses."""
    try:
        return rfc8785.dumps(normalize(value))
    # rfc8785 lets a UnicodeEncodeError out when it sorts a key holding a lone surrogate.
    except (CanonicalizationError, rfc8785.CanonicalizationError, UnicodeEncodeError):
        return None


def ours(value: object) -> bytes | None:
    try:
        return canonical_json(value)
    except CanonicalizationError:
        return None


@settings(max_examples=600)
@given(value=values)
def test_matches_rfc8785(value: object) -> None:
    assert ours(value) == reference(value)


@given(keys=st.lists(st.sampled_from(_SPECIAL) | texts, min_size=2, max_size=8, unique=True))
def test_key_order_is_rfc8785s(keys: list[str]) -> None:
    value = {key: index for index, key in enumerate(keys)}
    assert ours(value) == reference(value)


def test_both_paths_are_exercised() -> None:
    # A key above U+FFFF sends the value to rfc8785; the order differs from code-point order.
    assert canonical_json({"\uff41": 1, "\U0001f600": 2}) == reference(
        {"\uff41": 1, "\U0001f600": 2}
    )
    assert canonical_json({"b": "\x1f\u2028", "a": [1, True, None]}) == (
        '{"a":[1,true,null],"b":"\\u001f\u2028"}'.encode()
    )
