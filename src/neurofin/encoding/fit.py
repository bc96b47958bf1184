"""Ridge fitting with himalaya (docs/REFERENCE.md section 3): per-voxel alphas, leave-stories-out CV, correlation score.

Solvers: `ridge` (himalaya RidgeCV, primal), `kernel` (KernelRidgeCV with a linear kernel, for
n_features > n_samples), `banded` (GroupRidgeCV, one ridge scaling per feature band, random search),
`auto` (kernel when the design has more columns than rows, else ridge). himalaya's alpha is the
penalty lambda on ||w||^2 (the HuthLab `ridge` alpha squared). Hyperparameters are scored by Pearson r
(himalaya's default would be negative MSE).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurofin.config import EncodingSettings
from neurofin.errors import ConfigError


def resolve_backend(name: str) -> str:
    """himalaya backend for a setting: `auto` -> torch_cuda on a GPU, else torch on CPU (numpy if no torch)."""
    if name != "auto":
        return name
    import importlib.util

    from neurofin.device import resolve_device

    if importlib.util.find_spec("torch") is None:
        return "numpy"
    return "torch_cuda" if resolve_device("auto") == "cuda" else "torch"


def use_backend(name: str) -> str:
    """Activate the himalaya backend for `name` (resolving `auto`) and return the concrete backend name."""
    from himalaya.backend import set_backend

    concrete = resolve_backend(name)
    try:
        set_backend(concrete, on_error="raise")
    except (ValueError, ImportError, RuntimeError) as exc:
        raise ConfigError(f"himalaya backend {concrete!r} is unavailable ({exc}); set encoding.backend to numpy") from None
    return concrete


def resolve_solver(solver: str, n_samples: int, n_features: int) -> str:
    """Concrete solver: `auto` picks the kernel form when features outnumber samples."""
    if solver != "auto":
        return solver
    return "kernel" if n_features > n_samples else "ridge"


def delayed_band_groups(band_slices: Sequence[slice], n_reduced: int, n_delays: int) -> np.ndarray:
    """Band id of each delayed design column (layout: delay-major blocks of the n_reduced pre-delay columns)."""
    per_column = np.full(n_reduced, -1, dtype=np.int64)
    for band, cols in enumerate(band_slices):
        per_column[cols] = band
    if (per_column < 0).any():
        raise ConfigError("feature bands do not cover every feature column: check features.blocks and encoding bands")
    return np.tile(per_column, n_delays)


@dataclass
class RidgeFit:
    """A fitted voxelwise ridge model: the himalaya estimator, its per-voxel alphas and CV scores."""

    estimator: Any
    solver: str
    backend: str
    alphas: np.ndarray  # (n_voxels,) selected penalty per voxel (banded: the overall scale)
    cv_scores: np.ndarray  # (n_voxels,) mean CV correlation at the selected hyperparameters
    column_order: np.ndarray | None = None  # banded: design column of each coefficient row
    design_eigenvalues: tuple[float, float] | None = None  # design_eigenvalues(design)

    def predict(self, design: np.ndarray) -> np.ndarray:
        """(n_trs, n_voxels) float32 predictions for a delayed design, on CPU."""
        from himalaya.backend import get_backend

        return np.asarray(get_backend().to_numpy(self.estimator.predict(design)), dtype=np.float32)

    def primal_weights(self) -> np.ndarray:
        """(n_design_columns, n_voxels) float32 weights in design-column order (kernel: X_fit' @ dual)."""
        from himalaya.backend import get_backend

        backend = get_backend()
        if self.solver == "kernel":
            coef = self.estimator.get_primal_coef()
        else:
            coef = self.estimator.coef_
        coef = np.asarray(backend.to_numpy(coef), dtype=np.float32)
        if self.column_order is None:
            return coef
        weights = np.empty_like(coef)
        weights[self.column_order] = coef
        return weights


MAX_SPECTRUM_SIDE = 4096  # designs whose shorter side is longer are not decomposed (seconds at this size)


def design_eigenvalues(design: np.ndarray) -> tuple[float, float] | None:
    """(smallest nonzero, largest) eigenvalue of X'X for a design X, or None when its shorter side exceeds
    MAX_SPECTRUM_SIDE. Nonzero: above 1e-9 of the largest (a design with more columns than rows is rank-deficient)."""
    n, p = design.shape
    if min(n, p) > MAX_SPECTRUM_SIDE or not design.size:
        return None
    x = np.asarray(design, dtype=np.float64)
    values = np.linalg.eigvalsh(x @ x.T if n < p else x.T @ x)
    largest = float(values[-1])
    if largest <= 0:
        return None
    return float(values[values > 1e-9 * largest][0]), largest


def _solver_params(settings: EncodingSettings) -> dict[str, Any]:
    from himalaya.scoring import correlation_score

    params: dict[str, Any] = {"score_func": correlation_score, "local_alpha": True}
    knobs = {
        "n_targets_batch": settings.n_targets_batch,
        "n_alphas_batch": settings.n_alphas_batch,
        "n_targets_batch_refit": settings.n_targets_batch_refit,
    }
    params.update({k: v for k, v in knobs.items() if v is not None})
    return params


def _best_cv_scores(scores: np.ndarray) -> np.ndarray:
    """Per-voxel CV score at the selected hyperparameters (banded search returns one row per iteration)."""
    return scores.max(axis=0) if scores.ndim == 2 else scores


def fit_ridge(
    design: np.ndarray,
    resp: np.ndarray,
    cv: Any,
    settings: EncodingSettings,
    *,
    band_groups: np.ndarray | None = None,
) -> RidgeFit:
    """Fit voxelwise ridge on a delayed design (n_trs, n_columns) -> resp (n_trs, n_voxels) with story-level `cv`."""
    from himalaya.backend import get_backend

    backend_name = use_backend(settings.backend)
    backend = get_backend()
    solver = resolve_solver(settings.solver, *design.shape)
    params = _solver_params(settings)
    alphas = np.asarray(settings.alphas, dtype=design.dtype)
    column_order = None
    if solver == "ridge":
        from himalaya.ridge import RidgeCV

        params["warn"] = False
        estimator = RidgeCV(alphas=alphas, solver="svd", solver_params=params, cv=cv)
    elif solver == "kernel":
        from himalaya.kernel_ridge import KernelRidgeCV

        estimator = KernelRidgeCV(alphas=alphas, kernel="linear", solver_params=params, cv=cv, warn=False)
    elif solver == "banded":
        from himalaya.ridge import GroupRidgeCV

        if band_groups is None:
            raise ConfigError("solver 'banded' needs feature bands: the encoding stage builds them from features.blocks")
        params.update(
            {"alphas": alphas, "n_iter": settings.banded_iterations, "progress_bar": False}
        )
        estimator = GroupRidgeCV(groups=band_groups, solver_params=params, cv=cv, random_state=settings.seed)
        column_order = np.concatenate([np.flatnonzero(band_groups == g) for g in np.unique(band_groups)])
    else:
        raise ConfigError(f"unknown encoding.solver {solver!r}: use ridge, kernel, banded or auto")
    estimator.fit(design, resp)
    return RidgeFit(
        estimator=estimator,
        solver=solver,
        backend=backend_name,
        alphas=np.asarray(backend.to_numpy(estimator.best_alphas_), dtype=np.float64),
        cv_scores=_best_cv_scores(np.asarray(backend.to_numpy(estimator.cv_scores_), dtype=np.float64)),
        column_order=column_order,
        design_eigenvalues=design_eigenvalues(design),
    )
