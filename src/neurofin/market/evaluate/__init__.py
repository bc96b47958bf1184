"""Evaluate: walk-forward backtest, forecast metrics, permutation nulls, increments, portfolio and the verdict.

Owns the backtest loop and verdict (backtest), metrics and HAC tests (metrics), the permutation null (null)
and the long-short book (portfolio).
"""

from neurofin.market.evaluate.backtest import BacktestResult, run_backtest

__all__ = ["BacktestResult", "run_backtest"]
