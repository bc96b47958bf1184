"""The model variants a backtest compares and how they nest: baselines, controls, ROI models and control+ROI."""

from __future__ import annotations

BASELINES = ("zero", "hist_mean", "univariate")
CONTROLS = ("sentiment", "attention", "embedding")
ROI_MODELS = ("roi", "roi_known_future")
AUGMENTED = tuple(f"{control}+roi" for control in CONTROLS)
MODELS = (*BASELINES, *CONTROLS, *ROI_MODELS, *AUGMENTED)
REFERENCE_MODEL = "univariate"
COVARIATE_MODELS = (*CONTROLS, *ROI_MODELS, *AUGMENTED)  # each nests the univariate model
INCREMENTS = tuple(zip(CONTROLS, AUGMENTED, strict=True))  # (control, control+roi): do ROIs add to the control?
