"""Non-brain control features on the same panel (docs/backtest.md "Controls").

- attention: how much a ticker is talked about. Per (ticker, session): log1p of the comment count and of
  the distinct-author count, and each one's change against the ticker's mean over the previous
  `attention_window` sessions (causal). A session without comments has count 0 (attention is never
  "missing": silence is information).
- embedding (the no-brain control): the LM features the encoding models read (`emb_*` panel columns,
  infer.embedding_dims), reduced by a PCA fitted on the training window of each fold to as many
  components as there are ROIs, so brain features and the text features they are computed from meet on
  equal terms. Sentiment (`lex_*`: VADER and Loughran-McDonald, neurofin.market.panel.sentiment) is the third control.
- projections (the same-dimension control, not a verdict control): the same embedding projected onto its
  leading principal components and onto `draws` random orthonormal directions (centred like the PCA); a
  projection model reads as many of its components as the ROI model reads ROIs for that ticker, so the
  brain-shaped projection meets arbitrary projections of the same words in the same dimension.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from neurofin.schema import EMB_PREFIX, ENSEMBLE

ATTENTION = ("att_comments", "att_authors", "att_comments_change", "att_authors_change")
EMBEDDING_PC = "embpc_"
PROJECTION = "projection_"  # model names: projection_pca (leading components), projection_1 .. (random)


def attention_features(frame: pd.DataFrame, panel: pd.DataFrame, window: int) -> pd.DataFrame:
    """The session frame (rows by ticker then session) plus the ATTENTION columns from the panel's counts."""
    rows = panel[panel["subject"] == ENSEMBLE] if (panel["subject"] == ENSEMBLE).any() else panel
    counts = rows.groupby(["session", "ticker"], as_index=False)[["n_comments", "n_authors"]].max()
    counts = counts.assign(session=pd.to_datetime(counts["session"]))
    merged = frame[["ticker", "session"]].merge(counts, on=["ticker", "session"], how="left")
    out = frame.copy()
    for count, level, change in (("n_comments", *ATTENTION[0::2]), ("n_authors", *ATTENTION[1::2])):
        values = np.log1p(merged[count].fillna(0.0).to_numpy(float))
        series = pd.Series(values, index=frame.index)
        trailing = series.groupby(frame["ticker"], sort=False).transform(
            lambda s: s.shift(1).rolling(window, min_periods=2).mean())
        out[level] = values
        out[change] = values - trailing.to_numpy(float)
    return out


def embedding_columns(panel: pd.DataFrame) -> list[str]:
    """The panel's LM-feature control columns (`emb_*`), in order."""
    return [c for c in panel.columns if c.startswith(EMB_PREFIX)]


@dataclass(frozen=True)
class EmbeddingPca:
    """PCA of the embedding columns fitted on one training window."""

    columns: tuple[str, ...]
    mean: np.ndarray
    components: np.ndarray  # (k, n_columns)
    prefix: str = EMBEDDING_PC

    @property
    def names(self) -> list[str]:
        """Component column names (embpc_1 ..)."""
        return [f"{self.prefix}{k + 1}" for k in range(self.components.shape[0])]

    def transform(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Component scores of `rows` (NaN where an embedding value is missing)."""
        values = rows[list(self.columns)].to_numpy(float)
        return pd.DataFrame((values - self.mean) @ self.components.T, columns=self.names, index=rows.index)


def fit_embedding_pca(
    frame: pd.DataFrame, columns: Sequence[str], start: pd.Timestamp, end: pd.Timestamp, n_components: int, seed: int = 0
) -> EmbeddingPca | None:
    """PCA on the frame rows of sessions [start, end] with every embedding value present (None if too few)."""
    from sklearn.decomposition import PCA

    window = frame[(frame["session"] >= start) & (frame["session"] <= end)]
    values = window[list(columns)].to_numpy(float)
    values = values[np.isfinite(values).all(axis=1)]
    k = min(n_components, len(columns), values.shape[0] - 1)
    if k < 1:
        return None
    pca = PCA(n_components=k, random_state=seed).fit(values)
    return EmbeddingPca(tuple(columns), pca.mean_, pca.components_)


def random_projections(pca: EmbeddingPca, draws: int, seed: int = 0) -> dict[str, EmbeddingPca]:
    """Model name -> projection: `draws` random orthonormal projections to the PCA's dimension (centred like it)."""
    rng = np.random.default_rng(seed)
    k, d = pca.components.shape
    out = {}
    for j in range(1, draws + 1):
        basis = np.linalg.qr(rng.standard_normal((d, k)))[0].T
        out[f"{PROJECTION}{j}"] = EmbeddingPca(pca.columns, pca.mean, basis, f"proj{j}_")
    return out
