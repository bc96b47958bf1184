"""The no-brain control's text vector: LM features reduced by a fixed random projection (`emb_*` columns).

A text's embedding is the readout-weighted mean of its word features (the vector the ROI readout applies
the encoding weights to, infer/readout.py) times `projection(width, dims)`: a Gaussian matrix drawn from a
fixed seed and orthonormalised by QR (Johnson-Lindenstrauss). It depends only on the feature width and the
number of dimensions, so it is the same on every run, machine and batch. When `dims` exceeds the feature
width, the matrix has orthonormal rows instead (an isometry into `dims` dimensions), so the number of
columns is always `dims`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from neurofin.errors import InputError
from neurofin.schema import EMB_PREFIX

SEED = 13  # issue 13: the projection never changes, or stored `emb_*` columns would stop being comparable


def embedding_names(dims: int) -> list[str]:
    """Column names emb_000, emb_001, ... of `dims` embedding dimensions."""
    return [f"{EMB_PREFIX}{k:03d}" for k in range(dims)]


@lru_cache(maxsize=16)
def projection(width: int, dims: int) -> np.ndarray:
    """(width, dims) read-only float64 projection: orthonormal columns when dims <= width, else orthonormal rows."""
    if width < 1 or dims < 1:
        raise InputError(f"an embedding projects {width} features to {dims} dimensions: both must be at least 1")
    gaussian = np.random.default_rng([SEED, width, dims]).standard_normal((max(width, dims), min(width, dims)))
    q, r = np.linalg.qr(gaussian)
    q = q * np.sign(np.diag(r))  # the QR with a positive diagonal is unique: no LAPACK-dependent signs
    matrix = q if dims <= width else np.ascontiguousarray(q.T)
    matrix.flags.writeable = False
    return matrix


def project(mean_features: np.ndarray, dims: int) -> np.ndarray:
    """(n_texts, dims) embeddings of (n_texts, width) readout-weighted mean features."""
    return mean_features @ projection(mean_features.shape[1], dims)
