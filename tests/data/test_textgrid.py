"""TextGrid reading: every file form gives the planted words and times; broken files give clear errors."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import numpy as np
import pytest
from praatio import textgrid as praat_textgrid
from praatio.data_classes.interval_tier import IntervalTier
from praatio.utilities.errors import PraatioException

from neurofin.data.textgrid import decode_textgrid, is_word, read_textgrid
from neurofin.errors import AnnexPointerError, DataError, MissingTextGridError

DURATION = 4.0
PHONES = [(0.0, 0.3, "DH"), (0.3, 0.5, "AH"), (0.5, 1.1, "K"), (1.1, 2.0, ""), (2.0, 2.6, "AE"), (2.6, 4.0, "")]
# Full words tier (tiles the story); the planted truth below is what must survive the filter.
WORDS = [
    (0.0, 0.25, "sentence_start"),
    (0.25, 0.5, "the"),
    (0.5, 1.1, "Café"),
    (1.1, 1.3, ""),
    (1.3, 1.4, "{SP}"),
    (1.4, 1.55, " { br } "),
    (1.55, 2.0, "{LG}"),
    (2.0, 2.6, 'said "hi"'),
    (2.6, 3.0, "ns"),
    (3.0, 3.5, "1.5e3"),
    (3.5, 4.0, "sentence_end"),
]
EXPECTED_WORDS = ["the", "Café", 'said "hi"', "1.5e3"]
EXPECTED_STARTS = [0.25, 0.5, 2.0, 3.0]
EXPECTED_STOPS = [0.5, 1.1, 2.6, 3.5]


def _q(label: str) -> str:
    return '"' + label.replace('"', '""') + '"'


def long_text(tiers: list[tuple[str, list[tuple[float, float, str]]]], xmax: float = DURATION) -> str:
    """A Praat long ("ooTextFile") TextGrid, written the way Praat writes it."""
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0 ", f"xmax = {xmax} "]
    lines += ["tiers? <exists> ", f"size = {len(tiers)} ", "item []: "]
    for k, (name, entries) in enumerate(tiers, start=1):
        lines += [f"    item [{k}]:", '        class = "IntervalTier" ', f"        name = {_q(name)} "]
        lines += ["        xmin = 0 ", f"        xmax = {xmax} ", f"        intervals: size = {len(entries)} "]
        for j, (a, b, label) in enumerate(entries, start=1):
            lines += [f"        intervals [{j}]:", f"            xmin = {a!r} ", f"            xmax = {b!r} "]
            lines += [f"            text = {_q(label)} "]
    return "\n".join(lines) + "\n"


def short_text(tiers: list[tuple[str, list[tuple[float, float, str]]]], counts: list[int] | None = None) -> str:
    """A Praat short TextGrid; `counts` overrides the declared entry counts (to plant a broken tier)."""
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "0", str(DURATION), "<exists>", str(len(tiers))]
    for k, (name, entries) in enumerate(tiers):
        count = counts[k] if counts else len(entries)
        lines += ['"IntervalTier"', _q(name), "0", str(DURATION), str(count)]
        for a, b, label in entries:
            lines += [repr(a), repr(b), _q(label)]
    return "\n".join(lines) + "\n"


def chronological_text(tiers: list[tuple[str, list[tuple[float, float, str]]]]) -> str:
    """A Praat chronological TextGrid: entries of all tiers merged in time order, with ! comments."""
    lines = ['"Praat chronological TextGrid text file"', f"0 {DURATION}   ! Time domain.", f"{len(tiers)}   ! Number of tiers."]
    lines += [f'"IntervalTier" {_q(name)} 0 {DURATION}' for name, _ in tiers]
    merged = sorted((a, k, b, label) for k, (_, entries) in enumerate(tiers, start=1) for a, b, label in entries)
    for a, k, b, label in merged:
        lines += [f"{k} {a!r} {b!r}", _q(label)]
    return "\n".join(lines) + "\n"


def assert_planted(path: Path) -> None:
    transcript = read_textgrid(path)
    assert transcript.words == EXPECTED_WORDS
    np.testing.assert_array_equal(transcript.starts, EXPECTED_STARTS)
    np.testing.assert_array_equal(transcript.stops, EXPECTED_STOPS)
    np.testing.assert_allclose(transcript.times, (np.array(EXPECTED_STARTS) + EXPECTED_STOPS) / 2)


@pytest.mark.parametrize("fmt", ["long_textgrid", "short_textgrid"])
def test_praatio_written_files(tmp_path: Path, fmt: str) -> None:
    tg = praat_textgrid.Textgrid()
    tg.addTier(IntervalTier("phones", PHONES, 0, DURATION))
    tg.addTier(IntervalTier("words", WORDS, 0, DURATION))
    path = tmp_path / "story.TextGrid"
    tg.save(str(path), fmt, includeBlankSpaces=True)
    assert_planted(path)


ENCODINGS = {
    "utf8": lambda text: text.encode("utf-8"),
    "utf8-bom-crlf": lambda text: codecs.BOM_UTF8 + text.replace("\n", "\r\n").encode("utf-8"),
    "utf16-le-bom": lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    "utf16-be-bom-crlf": lambda text: codecs.BOM_UTF16_BE + text.replace("\n", "\r\n").encode("utf-16-be"),
    "utf16-le-no-bom": lambda text: text.encode("utf-16-le"),
    "latin1-cr": lambda text: text.replace("\n", "\r").encode("latin-1"),
}
WRITERS = {"long": long_text, "short": short_text, "chronological": chronological_text}


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("form", sorted(WRITERS))
def test_hand_written_forms_and_encodings(tmp_path: Path, form: str, encoding: str) -> None:
    path = tmp_path / "story.TextGrid"
    path.write_bytes(ENCODINGS[encoding](WRITERS[form]([("phones", PHONES), ("words", WORDS)])))
    assert_planted(path)


def test_decode_normalises_line_ends_and_bom() -> None:
    text = 'a\nb "é"\n'
    for encode in ENCODINGS.values():
        assert decode_textgrid(encode(text)) == text


def test_overlapping_phones_tier_does_not_stop_us(tmp_path: Path) -> None:
    phones = [(0.0, 0.6, "DH"), (0.4, 1.2, "AH"), (1.0, 4.0, "")]  # overlaps: praatio refuses the file
    path = tmp_path / "story.TextGrid"
    path.write_text(long_text([("phones", phones), ("words", WORDS)]))
    with pytest.raises(PraatioException):
        praat_textgrid.openTextgrid(str(path), includeEmptyIntervals=True)
    assert_planted(path)


def test_broken_phones_tier_in_short_format(tmp_path: Path) -> None:
    path = tmp_path / "story.TextGrid"
    path.write_text(short_text([("phones", PHONES), ("words", WORDS)], counts=[len(PHONES) + 3, len(WORDS)]))
    assert_planted(path)


def test_out_of_order_and_overlapping_words_are_sorted_and_clipped(tmp_path: Path) -> None:
    words = [(2.0, 2.6, "c"), (0.0, 0.5, "a"), (0.4, 1.0, "b"), (1.0, 2.0, ""), (2.6, 4.0, "d")]
    path = tmp_path / "story.TextGrid"
    path.write_text(long_text([("phones", PHONES), ("words", words)]))
    transcript = read_textgrid(path)
    assert transcript.words == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(transcript.starts, [0.0, 0.4, 2.0, 2.6])
    np.testing.assert_array_equal(transcript.stops, [0.4, 1.0, 2.6, 4.0])  # "a" clipped at the start of "b"


def test_overlap_with_a_non_word_does_not_move_a_word(tmp_path: Path) -> None:
    words = [(0.0, 1.0, "a"), (0.5, 2.0, "{sp}"), (2.0, 4.0, "b")]
    path = tmp_path / "story.TextGrid"
    path.write_text(short_text([("phones", PHONES), ("words", words)]))
    transcript = read_textgrid(path)
    assert transcript.words == ["a", "b"]
    np.testing.assert_array_equal(transcript.stops, [1.0, 4.0])


def test_word_tier_found_by_name_in_any_case_else_by_index(tmp_path: Path) -> None:
    other = [(0.0, 4.0, "noise")]
    by_name = tmp_path / "name.TextGrid"
    by_name.write_text(long_text([("WORDS", WORDS), ("phones", PHONES), ("notes", other)]))
    assert_planted(by_name)
    by_index = tmp_path / "index.TextGrid"
    by_index.write_text(long_text([("phone", PHONES), ("word", WORDS), ("notes", other)]))
    assert_planted(by_index)


def test_scientific_notation_times(tmp_path: Path) -> None:
    words = [(0.0, 5e-05, "tick"), (5e-05, 4.0, "tock")]
    path = tmp_path / "story.TextGrid"
    path.write_text(long_text([("phones", PHONES), ("words", words)]))
    transcript = read_textgrid(path)
    assert transcript.words == ["tick", "tock"]
    np.testing.assert_array_equal(transcript.stops, [5e-05, 4.0])


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("hello", True),
        ("{SP}", False),
        ("sp", False),
        ("  {Lg} ", False),
        ("SENTENCE_START", False),
        ("{sentence_end}", False),
        ("", False),
        ("   ", False),
        ("{}", False),
        ("{CG}", True),
        ("spin", True),
        ("br.", True),
    ],
)
def test_reference_bad_word_filter(label: str, expected: bool) -> None:
    assert is_word(label) is expected


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MissingTextGridError, match="neurofin data download"):
        read_textgrid(tmp_path / "nothere.TextGrid")


def test_annex_pointer_file_and_dangling_link(tmp_path: Path) -> None:
    pointer = tmp_path / "story.TextGrid"
    pointer.write_text("../../.git/annex/objects/Xk/3q/MD5E-s2048--0123456789abcdef.TextGrid/MD5E-s2048--0123.TextGrid\n")
    with pytest.raises(AnnexPointerError, match="datalad get"):
        read_textgrid(pointer)
    link = tmp_path / "linked.TextGrid"
    os.symlink(tmp_path / ".git" / "annex" / "objects" / "gone", link)
    with pytest.raises(AnnexPointerError, match="git-annex pointer"):
        read_textgrid(link)


def test_unparseable_file_names_the_file_and_each_failure(tmp_path: Path) -> None:
    path = tmp_path / "garbage.TextGrid"
    path.write_text("this is not a TextGrid at all\n" * 100)
    with pytest.raises(DataError, match="garbage.TextGrid") as info:
        read_textgrid(path)
    message = str(info.value)
    assert "praatio (strict)" in message and "neurofin words-tier parser" in message
    assert "no IntervalTier or TextTier header" in message


def test_truncated_words_tier_is_an_error(tmp_path: Path) -> None:
    text = short_text([("phones", PHONES), ("words", WORDS)])
    path = tmp_path / "cut.TextGrid"
    path.write_text(text[: len(text) - 40])
    with pytest.raises(DataError, match="cut.TextGrid") as info:
        read_textgrid(path)
    assert "stops at 2.6 s but ends at 4.0 s" in str(info.value)  # praatio silently truncates: we notice
    assert f"declares {len(WORDS)} entries" in str(info.value)
