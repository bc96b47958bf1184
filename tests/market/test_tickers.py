"""Ticker extraction: precision and recall on the hand-written corpus, and each extraction rule."""

import json
from pathlib import Path

import pytest

from neurofin.errors import InputError
from neurofin.market.tickers import TickerUniverse, extract_tickers, load_universe, parse_symbols

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
    assert extract_tickers("Foo Corp and foocorp, BAR, $BAR, GO", universe) == ["FOO", "BAR", "GO"]
    assert extract_tickers("BAR only", universe) == []  # blacklisted bare word
    assert extract_tickers("TSLA", universe) == []  # not in this whitelist
    restricted = universe.restricted_to({"bar"})
    assert restricted.symbols == {"BAR"} and restricted.aliases == {}


def test_bad_symbol_files_raise_user_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a ticker symbol"):
        parse_symbols("symbol,aliases\nTOOLONGX,\n")
    with pytest.raises(InputError, match="lists no symbols"):
        parse_symbols("# nothing\nsymbol,aliases\n")
    with pytest.raises(InputError, match="not found"):
        load_universe(tmp_path / "missing.csv")
