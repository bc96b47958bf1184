"""Evaluate: walk-forward backtest, forecast metrics, permutation nulls, increments, portfolio and the verdict.

Owns the backtest (backtest: the run in order), its folds and per-fold selection (walk_forward), the forecast loop
(forecast_loop), the model variants (variants), metrics and HAC tests (metrics), the permutation null (null),
evaluation per target (evaluation), the control increments and Holm (increments), the long-short book (portfolio)
and the typed verdict (verdict).
"""

from neurofin.market.evaluate.backtest import BacktestResult, run_backtest
from neurofin.market.evaluate.verdict import SIGNIFICANCE, Verdict

__all__ = ["SIGNIFICANCE", "BacktestResult", "Verdict", "run_backtest"]
