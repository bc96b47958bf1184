"""Find the stock tickers a comment talks about: cashtags, whitelisted bare symbols, company names.

Rules (in `extract_tickers`):
- cashtags `$TSLA` / `$tsla` / `$BRK.B` count when the symbol is in the whitelist; the `$` is explicit
  intent, so they bypass the word blacklist (`$ALL` is Allstate, bare `ALL` is not);
- bare symbols count only when written in upper case, at least two letters long, whitelisted, not
  blacklisted (jargon: DD, YOLO, CEO, IPO, ATH, EPS, ...) and not a common English word (the shipped
  resources/market/common_words.txt: "I WISH I BOUGHT MORE" names no ticker; `$WISH` does);
- renames are point in time: a symbols line `META,Meta Platforms,FB@2022-06-09` maps the former symbol
  FB to META, and drops META mentions dated before 2022-06-09 (the symbol then named another security);
- company-name aliases (`Tesla`, `GameStop`) match case-sensitively as whole words, exactly as
  listed in the symbols file (ambiguous names such as "Target" or "Oracle" are left out);
- URLs are ignored; each ticker is reported once per comment, in order of first mention.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path

from neurofin.errors import InputError
from neurofin.unicode import BOM_ENCODING

_CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z]{1,5}(?:\.[A-Za-z])?)(?!\w)")
_BARE = re.compile(r"(?<![\w$.])([A-Z]{2,5}(?:\.[A-Z])?)(?![\w])")
_URL = re.compile(r"https?://\S+|www\.\S+")
_SYMBOL = re.compile(r"[A-Z]{1,5}(?:\.[A-Z])?")


def _resource_text(name: str) -> str:
    return resources.files("neurofin").joinpath("resources", "market", name).read_text(encoding="utf-8")


def _content_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@dataclass(frozen=True)
class TickerUniverse:
    """Which symbols exist (whitelist), which bare words never count (blacklist), and name aliases."""

    symbols: frozenset[str]
    blacklist: frozenset[str] = frozenset()
    aliases: dict[str, str] = field(default_factory=dict)
    common_words: frozenset[str] = frozenset()
    renames: dict[str, tuple[str, date]] = field(default_factory=dict)  # former symbol -> (current, effective)

    def alias_pattern(self) -> re.Pattern[str] | None:
        """One regex matching any alias as a whole word (longest alias first)."""
        return _alias_regex(tuple(sorted(self.aliases, key=len, reverse=True)))


_ALIAS_CACHE: dict[tuple[str, ...], re.Pattern[str] | None] = {}


def _alias_regex(aliases: tuple[str, ...]) -> re.Pattern[str] | None:
    if aliases not in _ALIAS_CACHE:
        body = "|".join(re.escape(a) for a in aliases)
        _ALIAS_CACHE[aliases] = re.compile(rf"(?<![\w$])(?:{body})(?!\w)") if aliases else None
    return _ALIAS_CACHE[aliases]


def parse_symbols(text: str, source: str = "symbols file") -> tuple[set[str], dict[str, str], dict[str, tuple[str, date]]]:
    """Read a symbols file: `SYMBOL[,alias|alias...[,FORMER@YYYY-MM-DD|...]]` per line; '#' comments and a
    'symbol' header skipped. Returns (symbols, alias -> symbol, former symbol -> (symbol, effective date))."""
    symbols: set[str] = set()
    aliases: dict[str, str] = {}
    renames: dict[str, tuple[str, date]] = {}
    for line in _content_lines(text):
        head, _, rest = line.partition(",")
        alias_text, _, rename_text = rest.partition(",")
        symbol = head.strip().upper()
        if symbol == "SYMBOL":
            continue
        if not _SYMBOL.fullmatch(symbol):
            raise InputError(f"{source}: {head.strip()!r} is not a ticker symbol; write one SYMBOL[,aliases] per line")
        symbols.add(symbol)
        for alias in alias_text.split("|"):
            if alias.strip():
                aliases[alias.strip()] = symbol
        for former in filter(None, (r.strip() for r in rename_text.split("|"))):
            old, _, day = former.partition("@")
            try:
                renames[old.strip().upper()] = (symbol, date.fromisoformat(day.strip()))
            except ValueError:
                raise InputError(f"{source}: rename {former!r} of {symbol}: write FORMER@YYYY-MM-DD") from None
    if not symbols:
        raise InputError(f"{source} lists no symbols: write one SYMBOL[,alias|alias] per line")
    return symbols, aliases, renames


def load_universe(
    symbols_file: str | Path | None = None, blacklist_file: str | Path | None = None,
    common_words_file: str | Path | None = None,
) -> TickerUniverse:
    """The ticker universe from user files, or the shipped whitelist (with aliases and renames), blacklist and
    common-word list."""

    def read(path: str | Path | None, default: str) -> tuple[str, str]:
        if path is None:
            return _resource_text(default), f"default {default}"
        if not Path(path).is_file():
            raise InputError(f"{path} not found: pass an existing symbols/blacklist/word-list file")
        return Path(path).read_text(encoding=BOM_ENCODING), str(path)

    symbols, aliases, renames = parse_symbols(*read(symbols_file, "symbols.csv"))
    blacklist = frozenset(word.upper() for word in _content_lines(read(blacklist_file, "blacklist.txt")[0]))
    common = frozenset(word.upper() for word in _content_lines(read(common_words_file, "common_words.txt")[0]))
    return TickerUniverse(frozenset(symbols | set(renames)), blacklist, aliases, common, renames)


def _known(symbol: str, universe: TickerUniverse) -> str | None:
    """The whitelisted symbol a match names; 'AMC.I' (sentence joined without a space) falls back to 'AMC'."""
    if symbol in universe.symbols:
        return symbol
    base = symbol.split(".")[0]
    return base if base != symbol and base in universe.symbols else None


def _current(symbol: str, universe: TickerUniverse, day: date | None) -> str | None:
    """The symbol a mention names on `day`: former symbols map to their successor; a successor mentioned
    before its effective date named another security (None)."""
    if symbol in universe.renames:
        return universe.renames[symbol][0]
    if day is not None:
        for successor, effective in universe.renames.values():
            if successor == symbol and day < effective:
                return None
    return symbol


def extract_tickers(text: str, universe: TickerUniverse, day: date | None = None) -> list[str]:
    """Tickers mentioned in a comment (written on `day`, for renames), each once, in order of first mention."""
    clean = _URL.sub(" ", text)
    found: list[tuple[int, str | None]] = []
    for match in _CASHTAG.finditer(clean):
        symbol = _known(match.group(1).upper(), universe)
        if symbol is not None:
            found.append((match.start(), _current(symbol, universe, day)))
    for match in _BARE.finditer(clean):
        symbol = _known(match.group(1), universe)
        if (symbol is not None and len(symbol) > 1 and symbol not in universe.blacklist
                and symbol not in universe.common_words):
            found.append((match.start(), _current(symbol, universe, day)))
    pattern = universe.alias_pattern()
    if pattern is not None:  # company names name the company whatever its symbol was that day
        found.extend((match.start(), universe.aliases[match.group(0)]) for match in pattern.finditer(clean))
    return list(dict.fromkeys(symbol for _, symbol in sorted(found, key=lambda f: f[0]) if symbol is not None))
