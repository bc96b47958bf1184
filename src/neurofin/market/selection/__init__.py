"""Selection: which ROI features a fold may use, chosen inside its training window only.

Owns inter-subject agreement (isc), Granger causality (granger) and the gate combining them (gate).
"""

from neurofin.market.selection.gate import Selection, select_features, selection_frequencies
from neurofin.market.selection.granger import granger_table
from neurofin.market.selection.isc import isc_table

__all__ = ["Selection", "granger_table", "isc_table", "select_features", "selection_frequencies"]
