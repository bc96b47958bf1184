"""Reduced feature basis: PCA that keeps component variances (docs/REFERENCE.md section 3: never whiten).

The basis maps per-story z-scored pre-delay rows (n_trs, n_features_in) to (n_trs, k) by a plain matrix
product. Scaling each component to unit variance (whitening) would make X'X ~ n*I and leave every ridge
penalty with the same Pearson r, so components keep their variances here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def fit_pca_basis(rows: np.ndarray, n_components: int, seed: int = 0) -> np.ndarray:
    """(n_features_in, k) orthonormal principal axes of `rows` (k = min(n_components, rank bound)); no whitening."""
    from sklearn.decomposition import PCA

    k = int(min(n_components, rows.shape[0], rows.shape[1]))
    pca = PCA(n_components=k, whiten=False, svd_solver="auto", random_state=seed)
    pca.fit(rows)
    return pca.components_.T.astype(np.float32)


def fit_banded_basis(rows: np.ndarray, band_slices: Sequence[slice], n_components: int, seed: int = 0) -> tuple[np.ndarray, list[slice]]:
    """Block-diagonal PCA basis, one PCA per feature band (n_components split evenly); returns basis and output bands."""
    per_band = max(1, n_components // len(band_slices))
    bases = [fit_pca_basis(rows[:, band], per_band, seed) for band in band_slices]
    basis = np.zeros((rows.shape[1], sum(b.shape[1] for b in bases)), dtype=np.float32)
    out_slices, col = [], 0
    for band, part in zip(band_slices, bases, strict=True):
        basis[band, col : col + part.shape[1]] = part
        out_slices.append(slice(col, col + part.shape[1]))
        col += part.shape[1]
    return basis, out_slices
