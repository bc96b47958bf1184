"""Find the stock tickers a comment talks about: cashtags, whitelisted bare symbols, company names.

Rules (in `extract_tickers`):
- cashtags `$TSLA` / `$tsla` / `$BRK.B` count when the symbol is in the whitelist; the `$` is explicit
  intent, so they bypass the word blacklist (`$ALL` is Allstate, bare `ALL` is not);
- bare symbols count only when written in upper case, at least two letters long, whitelisted and not
  blacklisted (words and jargon: A, IT, DD, ON, GO, CAN, ALL, ARE, YOLO, CEO, IPO, ATH, EPS, ...);
- company-name aliases (`Tesla`, `GameStop`) match case-sensitively as whole words, exactly as
  listed in the symbols file (ambiguous names such as "Target" or "Oracle" are left out);
- URLs are ignored; each ticker is reported once per comment, in order of first mention.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from neurofin.errors import InputError

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

    def restricted_to(self, symbols: set[str] | frozenset[str]) -> TickerUniverse:
        """The same universe limited to the given symbols (e.g. those with prices)."""
        keep = self.symbols & {s.upper() for s in symbols}
        return TickerUniverse(keep, self.blacklist, {a: s for a, s in self.aliases.items() if s in keep})

    def alias_pattern(self) -> re.Pattern[str] | None:
        """One regex matching any alias as a whole word (longest alias first)."""
        return _alias_regex(tuple(sorted(self.aliases, key=len, reverse=True)))


_ALIAS_CACHE: dict[tuple[str, ...], re.Pattern[str] | None] = {}


def _alias_regex(aliases: tuple[str, ...]) -> re.Pattern[str] | None:
    if aliases not in _ALIAS_CACHE:
        body = "|".join(re.escape(a) for a in aliases)
        _ALIAS_CACHE[aliases] = re.compile(rf"(?<![\w$])(?:{body})(?!\w)") if aliases else None
    return _ALIAS_CACHE[aliases]


def parse_symbols(text: str, source: str = "symbols file") -> tuple[set[str], dict[str, str]]:
    """Read a symbols file: one `SYMBOL[,alias|alias...]` per line; '#' comments and a 'symbol' header skipped."""
    symbols: set[str] = set()
    aliases: dict[str, str] = {}
    for line in _content_lines(text):
        head, _, rest = line.partition(",")
        symbol = head.strip().upper()
        if symbol == "SYMBOL":
            continue
        if not _SYMBOL.fullmatch(symbol):
            raise InputError(f"{source}: {head.strip()!r} is not a ticker symbol; write one SYMBOL[,aliases] per line")
        symbols.add(symbol)
        for alias in rest.split("|"):
            if alias.strip():
                aliases[alias.strip()] = symbol
    if not symbols:
        raise InputError(f"{source} lists no symbols: write one SYMBOL[,alias|alias] per line")
    return symbols, aliases


def load_universe(symbols_file: str | Path | None = None, blacklist_file: str | Path | None = None) -> TickerUniverse:
    """The ticker universe from user files, or the shipped default whitelist, aliases and blacklist."""

    def read(path: str | Path | None, default: str) -> tuple[str, str]:
        if path is None:
            return _resource_text(default), f"default {default}"
        if not Path(path).is_file():
            raise InputError(f"{path} not found: pass an existing symbols/blacklist file")
        return Path(path).read_text(encoding="utf-8"), str(path)

    symbols, aliases = parse_symbols(*read(symbols_file, "symbols.csv"))
    blacklist = frozenset(word.upper() for word in _content_lines(read(blacklist_file, "blacklist.txt")[0]))
    return TickerUniverse(frozenset(symbols), blacklist, aliases)


def _known(symbol: str, universe: TickerUniverse) -> str | None:
    """The whitelisted symbol a match names; 'AMC.I' (sentence joined without a space) falls back to 'AMC'."""
    if symbol in universe.symbols:
        return symbol
    base = symbol.split(".")[0]
    return base if base != symbol and base in universe.symbols else None


def extract_tickers(text: str, universe: TickerUniverse) -> list[str]:
    """Tickers mentioned in a comment, each once, in order of first mention."""
    clean = _URL.sub(" ", text)
    found: list[tuple[int, str]] = []
    for match in _CASHTAG.finditer(clean):
        symbol = _known(match.group(1).upper(), universe)
        if symbol is not None:
            found.append((match.start(), symbol))
    for match in _BARE.finditer(clean):
        symbol = _known(match.group(1), universe)
        if symbol is not None and symbol not in universe.blacklist and len(symbol) > 1:
            found.append((match.start(), symbol))
    pattern = universe.alias_pattern()
    if pattern is not None:
        found.extend((match.start(), universe.aliases[match.group(0)]) for match in pattern.finditer(clean))
    return list(dict.fromkeys(symbol for _, symbol in sorted(found)))
