"""Helpers for tests and benchmarks, not part of the product: planted data and tiny models.

    planted_market.planted_panel(...)     # a synthetic market panel with a planted lead-lag signal
    chronos.save_random_chronos2(path)    # a ~25k-parameter random Chronos-2, no download
    design.story_design(...)              # the reference per-story design matrix
    market.evaluate(...), market.restricted_universe(universe, symbols)
"""
