"""Panel: the daily ticker x session table the forecasts read, and the prices and targets it is scored against.

Owns the DuckDB panel store (store: the PanelStore and its reads; store_schema: the tables and recorded rules;
store_update: the transactional update; store_inputs: the validated ROI table and mentions), per-comment sentiment
measures (sentiment, lexicon), prices (prices) and forecast targets (targets).
"""

from neurofin.market.panel.lexicon import load_lexicon
from neurofin.market.panel.prices import demo_prices, read_prices
from neurofin.market.panel.store import PanelStore, PanelUpdate
from neurofin.market.panel.targets import TargetSpec, target_specs

__all__ = ["PanelStore", "PanelUpdate", "TargetSpec", "demo_prices", "load_lexicon", "read_prices", "target_specs"]
