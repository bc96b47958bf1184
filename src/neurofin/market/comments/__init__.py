"""Comments: Reddit dumps -> clean comment rows, the tickers each names, and the exchange session each counts for.

Owns ingestion (ingest: the output table; dumps: reading and decoding dump files; filters: the keep/drop rules
and the report; dedupe: the id index), the ticker universe and extraction (tickers) and the NYSE calendar
(calendar).
"""

import lazy_loader

# names load on first use (the .pyi lists them), so `neurofin --help` and other light imports stay fast
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
