"""Ticker extraction: precision and recall on the hand-written corpus, and each extraction rule."""

import json
from datetime import date
from pathlib import Path

import pytest

from neurofin.errors import InputError
from neurofin.market.comments.tickers import TickerUniverse, extract_tickers, load_universe, parse_symbols
from neurofin.testing.market import restricted_universe

CORPUS = Path(__file__).parent / "data" / "comments_tickers.jsonl"
MIN_PRECISION = 0.9
MIN_RECALL = 0.9


@pytest.fixture(scope="module")
def universe() -> TickerUniverse:
    return load_universe()


def test_precision_and_recall_on_hand_written_corpus(universe: TickerUniverse) -> None:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 80
    true_pos = false_pos = false_neg = 0
    for row in rows:
        found = extract_tickers(row["text"], universe)
        assert len(found) == len(set(found)), f"ticker reported twice in {row['text']!r}"
        got, expected = set(found), set(row["expected"])
        true_pos += len(got & expected)
        false_pos += len(got - expected)
        false_neg += len(expected - got)
    precision = true_pos / (true_pos + false_pos)
    recall = true_pos / (true_pos + false_neg)
    print(f"ticker corpus: {len(rows)} comments, tp={true_pos} fp={false_pos} fn={false_neg}, "
          f"precision={precision:.3f} recall={recall:.3f}")  # fmt: skip
    assert true_pos + false_neg >= 80  # enough expected mentions for the figures to mean something
    assert precision >= MIN_PRECISION
    assert recall >= MIN_RECALL


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$tsla and $AAPL", ["TSLA", "AAPL"]),  # cashtags in any case
        ("$ALL in, ALL day", ["ALL"]),  # cashtag bypasses the blacklist, bare ALL does not count
        ("$5 for $AMD", ["AMD"]),  # amounts are not cashtags
        ("F is fine, $F is Ford", ["F"]),  # single-letter bare symbols never count
        ("see https://x.example/NVDA and www.y.example/$TSLA", []),  # URLs ignored
        ("nvda NVDA $NVDA Nvidia", ["NVDA"]),  # one report per comment
        ("AMD then TSLA then AMD then Apple", ["AMD", "TSLA", "AAPL"]),  # order of first mention
        ("XYZQ is not listed, neither is $XYZQ", []),  # whitelist only
        ("ZZTSLA TSLAZ xTSLA", []),  # whole words only
    ],
)
def test_extraction_rules(universe: TickerUniverse, text: str, expected: list[str]) -> None:
    assert extract_tickers(text, universe) == expected


def test_user_symbols_and_blacklist_files(tmp_path: Path) -> None:
    symbols = tmp_path / "symbols.csv"
    symbols.write_text("# mine\nsymbol,aliases\nFOO,Foo Corp|foocorp\nBAR,\nGO,\n", encoding="utf-8")
    blacklist = tmp_path / "blacklist.txt"
    blacklist.write_text("# words\nbar\n", encoding="utf-8")
    universe = load_universe(symbols, blacklist)
    assert universe.symbols == {"FOO", "BAR", "GO"}
    assert extract_tickers("Foo Corp and foocorp, BAR, $BAR, GO, $GO", universe) == ["FOO", "BAR", "GO"]
    assert extract_tickers("GO", universe) == []  # a common English word: only as a cashtag
    assert extract_tickers("BAR only", universe) == []  # blacklisted bare word
    assert extract_tickers("TSLA", universe) == []  # not in this whitelist
    restricted = restricted_universe(universe, {"bar"})
    assert restricted.symbols == {"BAR"} and restricted.aliases == {}


def test_bad_symbol_files_raise_user_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a ticker symbol"):
        parse_symbols("symbol,aliases\nTOOLONGX,\n")
    with pytest.raises(InputError, match="lists no symbols"):
        parse_symbols("# nothing\nsymbol,aliases\n")
    with pytest.raises(InputError, match="not found"):
        load_universe(tmp_path / "missing.csv")


def test_shouted_lines_keep_precision(universe: TickerUniverse) -> None:
    """The >= 200 all-caps lines added for issue 12 (benchmarks/bench_tickers.py reports before/after)."""
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    shouted = [r for r in rows if r.get("note") == "shouted"]
    assert len(shouted) >= 200
    false_pos = sum(len(set(extract_tickers(r["text"], universe)) - set(r["expected"])) for r in shouted)
    true_pos = sum(len(set(extract_tickers(r["text"], universe)) & set(r["expected"])) for r in shouted)
    assert false_pos / (false_pos + true_pos) <= 0.02


@pytest.mark.parametrize("word", ["WISH", "NET", "COST", "UPS", "CAT", "SNOW", "PLUG", "SHOP", "HOOD", "COIN", "ARM"])
def test_shouted_common_words_are_tickers_only_as_cashtags(universe: TickerUniverse, word: str) -> None:
    assert extract_tickers(f"I {word} THE WHOLE DAY, BOUGHT MORE AMD", universe) == ["AMD"]
    assert extract_tickers(f"${word} earnings", universe) == [word]


def test_renamed_symbols_map_point_in_time(universe: TickerUniverse) -> None:
    before, after = date(2021, 3, 1), date(2022, 7, 1)
    assert extract_tickers("FB earnings", universe, before) == ["META"]  # the former symbol names the company
    assert extract_tickers("$FB and FB", universe, after) == ["META"]
    assert extract_tickers("$META is the metaverse ETF", universe, before) == []  # META named another fund then
    assert extract_tickers("$META and $FB", universe, after) == ["META"]
    assert universe.renames["FB"] == ("META", date(2022, 6, 9))
    with pytest.raises(InputError, match="FORMER@YYYY-MM-DD"):
        parse_symbols("symbol,aliases\nMETA,,FB@June\n")
