"""Story transcripts from Praat TextGrids: the words tier, its intervals, the reference bad-word filter.

Readers are tried in order until one yields the words tier:
1. praatio, strict (praatio validates every tier: an overlapping phones tier makes it fail);
2. praatio's text parser without its validation, on text we decoded ourselves (BOM, UTF-16, CRLF);
3. our own token parser of the words tier alone, for long, short and Praat-chronological text files.
Whatever reader succeeds, the words are then filtered and repaired the same way (see `read_textgrid`).
"""

from __future__ import annotations

import codecs
import itertools
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from neurofin.data.annex import annex_fix_hint, is_annex_pointer
from neurofin.data.transcript import Transcript
from neurofin.errors import AnnexPointerError, DataError, MissingTextGridError

# docs/REFERENCE.md section 2: labels dropped after lower(), strip("{}"), strip().
NON_SPEECH_LABELS = frozenset({"sentence_start", "sentence_end", "br", "lg", "ls", "ns", "sp"})
WORD_TIER_NAME = "words"
WORD_TIER_INDEX = 1  # ds003020 TextGrids: tier 0 phones, tier 1 words
INTERVAL_TIER = "IntervalTier"
POINT_TIER = "TextTier"
CHRONOLOGICAL_TITLE = "Praat chronological TextGrid text file"
OVERLAP_TOLERANCE_S = 1e-6  # rounding in the file's decimal times is not an overlap


class Interval(NamedTuple):
    """One labelled interval of a tier, in seconds."""

    start: float
    stop: float
    label: str


class Tier(NamedTuple):
    """A parsed tier: class (IntervalTier or TextTier), name, intervals (points have start == stop)."""

    kind: str
    name: str
    intervals: list[Interval]
    problem: str = ""  # why this tier could not be read (other tiers are still usable)
    end: float | None = None  # tier xmax, where a reader without entry counts must prove it read every entry


class _ParseFailure(ValueError):
    """Our own parser could not read the file."""


def is_word(label: str) -> bool:
    """True for a spoken word; False for silence (empty label) and non-speech labels like {SP} or sentence_start."""
    key = label.strip().lower().strip("{}").strip()
    return bool(key) and key not in NON_SPEECH_LABELS


def read_textgrid(path: str | Path) -> Transcript:
    """Read a story's words (labels stripped of surrounding spaces) with start/stop seconds from a TextGrid.

    Empty labels are silences, not words: they are dropped, as are the reference's non-speech labels.
    The kept words are sorted by start time, and a word that overlaps the next one has its stop
    clipped to the next word's start, so word intervals never overlap (a no-op on well-formed files).
    """
    path = Path(path)
    if is_annex_pointer(path):
        raise AnnexPointerError(annex_fix_hint(path))
    if not path.is_file():
        raise MissingTextGridError(
            f"TextGrid {path} is missing: download the transcripts with "
            f"`neurofin data download --subjects UTS01 --dest <folder>` (they sit in ds003020/derivative/TextGrids/)"
        )
    words = [iv for iv in word_tier_intervals(path) if is_word(iv.label)]
    bad = [iv for iv in words if not iv.start <= iv.stop]
    if bad:
        raise DataError(f"TextGrid {path}: word interval {bad[0]} ends before it starts; fix or re-download the file")
    words = _untangle(words)
    return Transcript(
        words=[iv.label.strip() for iv in words],
        starts=np.array([iv.start for iv in words], dtype=np.float64),
        stops=np.array([iv.stop for iv in words], dtype=np.float64),
    )


def word_tier_intervals(path: Path) -> list[Interval]:
    """All intervals of the words tier as written in the file (unfiltered), trying each reader in turn."""
    readers = (
        ("praatio (strict)", _read_praatio_strict),
        ("praatio parser without validation", _read_praatio_lenient),
        ("neurofin words-tier parser", _read_tokens),
    )
    failures = []
    for name, reader in readers:
        try:
            return _pick_word_tier(reader(path))
        except (ValueError, IndexError, KeyError, TypeError, AttributeError, RecursionError, _praatio_error()) as exc:
            kind = "" if isinstance(exc, _ParseFailure) else f"{type(exc).__name__}: "
            failures.append(f"{name}: {kind}{exc}".strip())
    raise DataError(
        f"cannot read the words tier of TextGrid {path}; every reader failed:\n  "
        + "\n  ".join(failures)
        + "\nCheck that it is a Praat text TextGrid (not binary or truncated), or re-download it."
    )


def decode_textgrid(raw: bytes) -> str:
    """Decode TextGrid bytes (UTF-8 with or without BOM, UTF-16 LE/BE, Latin-1) to text with LF line ends."""
    return _decode(raw)[0]


def _decode(raw: bytes) -> tuple[str, str]:
    """(text with LF line ends, the encoding used)."""
    if raw.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif b"\x00" in raw[:200]:
        encoding = "utf-16-be" if raw[:1] == b"\x00" else "utf-16-le"
    else:
        try:
            raw.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "latin-1"
    return raw.decode(encoding).replace("\r\n", "\n").replace("\r", "\n"), encoding


def textgrid_warnings(path: str | Path) -> list[str]:
    """What `read_textgrid` repairs silently in a readable TextGrid: non-UTF-8 bytes, words overlapping in time."""
    path = Path(path)
    found = []
    if _decode(path.read_bytes())[1] == "latin-1":
        found.append(f"{path} is neither UTF-8 nor UTF-16: it was read as Latin-1, so non-ASCII words may be wrong; "
                     "re-download it or re-save it as UTF-8")
    words = sorted((iv for iv in word_tier_intervals(path) if is_word(iv.label)), key=lambda iv: (iv.start, iv.stop))
    overlaps = [(a, b) for a, b in itertools.pairwise(words) if a.stop > b.start + OVERLAP_TOLERANCE_S]
    if overlaps:
        a, b = overlaps[0]
        found.append(f"{path}: {len(overlaps)} word(s) overlap the next word in time (first: {a.label.strip()!r} "
                     f"{a.start:g}-{a.stop:g} s and {b.label.strip()!r} from {b.start:g} s); each is clipped at the next "
                     "word's start: check the alignment or re-download the file")
    return found


def _praatio_error() -> type[Exception]:
    from praatio.utilities.errors import PraatioException

    return PraatioException


def _read_praatio_strict(path: Path) -> list[Tier]:
    from praatio import textgrid

    tg = textgrid.openTextgrid(str(path), includeEmptyIntervals=True, reportingMode="error")
    tiers = []
    for name in tg.tierNames:
        tier = tg.getTier(name)
        if tier.tierType == INTERVAL_TIER:
            intervals = [Interval(float(a), float(b), str(c)) for a, b, c in tier.entries]
        else:
            intervals = [Interval(float(t), float(t), str(c)) for t, c in tier.entries]
        tiers.append(Tier(tier.tierType, name, intervals, end=float(tier.maxTimestamp)))
    return tiers


def _read_praatio_lenient(path: Path) -> list[Tier]:
    from praatio.utilities import textgrid_io

    parsed = textgrid_io.parseTextgridStr(decode_textgrid(path.read_bytes()), includeEmptyIntervals=True)
    tiers = []
    for tier in parsed["tiers"]:
        if tier["class"] == INTERVAL_TIER:
            intervals = [Interval(float(a), float(b), str(c)) for a, b, c in tier["entries"]]
        else:
            intervals = [Interval(float(t), float(t), str(c)) for t, c in tier["entries"]]
        tiers.append(Tier(tier["class"], str(tier["name"]), intervals, end=float(tier["xmax"])))
    return tiers


# Tokens of a Praat text file. Strings come first so that digits or "!" inside labels are never misread.
_TOKEN = re.compile(
    r"""
      "(?P<string>(?:[^"]|"")*)"                     # a string; "" is an escaped quote
    | ![^\n]*                                        # a comment (chronological format)
    | \[[^\]\n]*\]                                   # an index such as item [2] or intervals [17]
    | <\w+>                                          # a flag such as <exists>
    | (?<![\w.])(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])
    """,
    re.VERBOSE,
)


def _tokens(text: str) -> list[str | float]:
    """Strings and numbers of a Praat text file in order; labels, indices, flags and comments are skipped."""
    out: list[str | float] = []
    for match in _TOKEN.finditer(text):
        if match.group("string") is not None:
            out.append(match.group("string").replace('""', '"'))
        elif match.group("number") is not None:
            out.append(float(match.group("number")))
    return out


def _read_tokens(path: Path) -> list[Tier]:
    tokens = _tokens(decode_textgrid(path.read_bytes()))
    if tokens and tokens[0] == CHRONOLOGICAL_TITLE:
        return _chronological_tiers(tokens)
    return _sequential_tiers(tokens)


def _is_tier_header(tokens: list[str | float], i: int) -> bool:
    """True where tokens[i:i+4] read: class, name, xmin, xmax."""
    head = tokens[i : i + 4]
    return (
        len(head) == 4
        and head[0] in (INTERVAL_TIER, POINT_TIER)
        and isinstance(head[1], str)
        and all(isinstance(t, float) for t in head[2:])
    )


def _sequential_tiers(tokens: list[str | float]) -> list[Tier]:
    """Tiers of a long or short text TextGrid; each is read on its own, so a broken one spoils no other."""
    starts = [i for i in range(len(tokens)) if _is_tier_header(tokens, i)]
    if not starts:
        raise _ParseFailure("no IntervalTier or TextTier header found")
    tiers = []
    for k, i in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(tokens)
        kind, name = str(tokens[i]), str(tokens[i + 1])
        try:
            tiers.append(Tier(kind, name, _tier_entries(kind, name, tokens[i + 4 : end])))
        except _ParseFailure as exc:
            tiers.append(Tier(kind, name, [], problem=str(exc)))
    return tiers


def _tier_entries(kind: str, name: str, block: list[str | float]) -> list[Interval]:
    """Decode `count, (xmin, xmax, text)...` (interval tier) or `count, (time, mark)...` (point tier)."""
    if not block or not isinstance(block[0], float):
        raise _ParseFailure(f"tier {name!r} has no entry count")
    count, body = int(block[0]), block[1:]
    width = 3 if kind == INTERVAL_TIER else 2
    if len(body) != count * width:
        raise _ParseFailure(f"tier {name!r} declares {count} entries but holds {len(body)} values, not {count * width}")
    entries = []
    for j in range(count):
        item = body[j * width : (j + 1) * width]
        if not all(isinstance(t, float) for t in item[:-1]) or not isinstance(item[-1], str):
            raise _ParseFailure(f"tier {name!r} entry {j + 1} is not times followed by a label: {item}")
        entries.append(Interval(float(item[0]), float(item[-2]), str(item[-1])))
    return entries


def _chronological_tiers(tokens: list[str | float]) -> list[Tier]:
    """Tiers of a Praat chronological TextGrid: tier headers, then entries `tier_number times "label"`."""
    try:
        n_tiers = int(tokens[3])
        heads = [tokens[4 + 4 * t : 8 + 4 * t] for t in range(n_tiers)]
    except (IndexError, TypeError, ValueError):
        raise _ParseFailure("chronological TextGrid header is incomplete") from None
    if not all(_is_tier_header(h, 0) for h in heads):
        raise _ParseFailure("chronological TextGrid tier headers are malformed")
    tiers = [Tier(str(h[0]), str(h[1]), [], end=float(h[3])) for h in heads]
    i = 4 + 4 * n_tiers
    while i < len(tokens):
        number = tokens[i]
        if not isinstance(number, float) or not 1 <= number <= n_tiers:
            raise _ParseFailure(f"chronological entry at token {i} has no valid tier number: {number!r}")
        tier = tiers[int(number) - 1]
        width = 3 if tier.kind == INTERVAL_TIER else 2
        item = tokens[i + 1 : i + 1 + width]
        if len(item) != width or not all(isinstance(t, float) for t in item[:-1]) or not isinstance(item[-1], str):
            raise _ParseFailure(f"chronological entry of tier {tier.name!r} is malformed: {item}")
        tier.intervals.append(Interval(float(item[0]), float(item[-2]), str(item[-1])))
        i += 1 + width
    return tiers


def _pick_word_tier(tiers: list[Tier]) -> list[Interval]:
    """The interval tier named "words" (any case), else the second tier."""
    named = [t for t in tiers if t.name.strip().lower() == WORD_TIER_NAME]
    if named:
        tier = named[0]
    elif len(tiers) > WORD_TIER_INDEX:
        tier = tiers[WORD_TIER_INDEX]
    else:
        names = [t.name for t in tiers]
        raise _ParseFailure(f"no tier named {WORD_TIER_NAME!r} and no tier {WORD_TIER_INDEX} (tiers: {names})")
    if tier.kind != INTERVAL_TIER:
        raise _ParseFailure(f"words tier {tier.name!r} is a {tier.kind}, not an IntervalTier")
    if tier.problem:
        raise _ParseFailure(tier.problem)
    reached = max((iv.stop for iv in tier.intervals), default=tier.end)
    if tier.end is not None and reached is not None and reached < tier.end - 1e-6:
        # Praat interval tiers tile [xmin, xmax]; praatio's short-format parser silently stops at a truncation.
        raise _ParseFailure(f"words tier {tier.name!r} stops at {reached} s but ends at {tier.end} s (truncated?)")
    return list(tier.intervals)


def _untangle(words: list[Interval]) -> list[Interval]:
    """Sort words by start time and clip each stop to the next word's start where they overlap."""
    ordered = sorted(words, key=lambda iv: (iv.start, iv.stop))
    out = []
    for k, iv in enumerate(ordered):
        if k + 1 < len(ordered) and iv.stop > ordered[k + 1].start:
            iv = iv._replace(stop=max(ordered[k + 1].start, iv.start))
        out.append(iv)
    return out
