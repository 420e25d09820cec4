"""`parse_hashes` (one pass over a list, for proofs) accepts and refuses exactly what
`parse_hex` does one text at a time."""

from hypothesis import given
from hypothesis import strategies as st

from registry.core.encoding import hex0x, parse_hashes, parse_hex
from registry.core.errors import EncodingError

hashes = st.binary(min_size=32, max_size=32).map(hex0x)
# Near misses: a valid hash with one character replaced, inserted or removed.
alphabet = st.sampled_from("0123456789abcdefABx X\u0660")


@st.composite
def near_misses(draw: st.DrawFn) -> object:
    text = draw(hashes)
    i = draw(st.integers(0, len(text)))
    kind = draw(st.sampled_from(["replace", "insert", "delete", "other"]))
    if kind == "replace" and i < len(text):
        return text[:i] + draw(alphabet) + text[i + 1 :]
    if kind == "insert":
        return text[:i] + draw(alphabet) + text[i:]
    if kind == "delete" and i < len(text):
        return text[:i] + text[i + 1 :]
    return draw(st.one_of(st.none(), st.integers(), st.text(max_size=70)))


texts = st.lists(st.one_of(hashes, hashes, hashes, near_misses()), max_size=24)


def one_by_one(values: list[object], size: int | None) -> tuple[bytes, ...] | str:
    out = []
    for i, value in enumerate(values):
        try:
            out.append(parse_hex(value, size=size, what=f"h[{i}]"))  # type: ignore[arg-type]
        except EncodingError as exc:
            return str(exc)
    return tuple(out)


@given(values=texts, size=st.sampled_from([32, None]))
def test_parse_hashes_is_parse_hex_of_each(values: list[object], size: int | None) -> None:
    want = one_by_one(values, size)
    try:
        got: tuple[bytes, ...] | str = parse_hashes(values, size=size, what="h")
    except EncodingError as exc:
        got = str(exc)
    assert got == want
