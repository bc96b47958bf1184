"""Models with identical values, found from the values themselves (the report names them together, draws them once)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def identical_groups(frame: pd.DataFrame) -> list[list[str]]:
    """Columns of `frame` grouped by equal values (NaN equals NaN), in column order; singletons included."""
    groups: list[list[str]] = []
    for column in frame.columns:
        values = frame[column].to_numpy(float)
        for group in groups:
            if np.array_equal(frame[group[0]].to_numpy(float), values, equal_nan=True):
                group.append(column)
                break
        else:
            groups.append([column])
    return groups
