"""Does the brain-shaped projection of the words beat arbitrary projections of them? (docs/backtest.md "Controls")

The ROI model reads, per ticker, k selected ROIs: a k-dimensional, brain-shaped function of the comments'
LM embedding. The projection models read k dimensions of the same embedding instead: its leading principal
components (`projection_pca`) or a random orthonormal projection (`projection_1` ..; controls.random_projections),
fitted with the same forecaster on the same rows. Statistic: the mean per-session IC on the primary target.
Rank 1 of draws + 1 means the ROI model beats every random projection; p = rank / (draws + 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from neurofin.market.evaluate import metrics as m
from neurofin.market.forecast.controls import PROJECTION

PCA_MODEL = f"{PROJECTION}pca"


@dataclass(frozen=True)
class ProjectionRank:
    """Where `model`'s mean IC ranks among `random_ic` (rank 1: above every one), and the PCA projection's IC."""

    model: str
    ic: float
    pca_ic: float | None
    random_ic: tuple[float, ...]

    @property
    def rank(self) -> int:
        """1 + the number of random projections whose mean IC reaches the model's."""
        return 1 + int(np.sum(np.asarray(self.random_ic) >= self.ic))

    @property
    def of(self) -> int:
        """Number of ranked candidates: the random projections and the model."""
        return len(self.random_ic) + 1

    def to_record(self) -> dict[str, object]:
        """JSON-ready record (summary.json `projections`); p = rank / of."""
        return {"statistic": "mean per-session IC", "model": self.model, "ic": self.ic, "pca_ic": self.pca_ic,
                "random_ic": list(self.random_ic), "rank": self.rank, "of": self.of, "p": self.rank / self.of}

    def sentence(self) -> str:
        """One sentence on where the model ranks among projections of the same embedding."""
        versus_pca = "" if self.pca_ic is None else f"; its leading principal components: mean IC {self.pca_ic:.3f}"
        return (f" Same-dimension control: {self.model} (mean IC {self.ic:.3f}) ranks {self.rank} of {self.of} "
                f"against {self.of - 1} random projections of the same LM embedding (p={self.rank / self.of:.2g})"
                f"{versus_pca}.")


def projection_rank(forecasts: pd.DataFrame, primary: str) -> ProjectionRank | None:
    """The primary model's mean IC among the random projections' (forecast rows of one target); None without them."""
    models = set(forecasts["model"].unique())
    randoms = sorted((name for name in models if name.startswith(PROJECTION) and name != PCA_MODEL),
                     key=lambda name: int(name.removeprefix(PROJECTION)))
    if not randoms or primary not in models:
        return None

    def mean_ic(model: str) -> float:
        return float(m.ic_by_date(forecasts[forecasts["model"] == model]).mean())

    return ProjectionRank(primary, mean_ic(primary), mean_ic(PCA_MODEL) if PCA_MODEL in models else None,
                          tuple(mean_ic(name) for name in randoms))
