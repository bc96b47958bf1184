"""Report fixtures: a tiny encoding package, an infer output and a backtest folder, each with planted properties."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from records import make_record

from neurofin.config import Settings
from neurofin.encoding.design import StorySplit
from neurofin.encoding.package import EncodingModel
from neurofin.encoding.record import FitRecord
from neurofin.market.evaluate.evaluation import daily_ic
from neurofin.market.evaluate.null import permutation_ic_test
from neurofin.market.evaluate.verdict import decide
from neurofin.market.forecast.models import quantile_column
from neurofin.market.summary import BacktestSummary
from neurofin.testing.market import evaluate

ALPHA_GRID = [10.0**k for k in range(0, 11)]
QUANTILES = [0.1, 0.5, 0.9]
TICKERS = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"]
ROIS = ["language", "limbic", "nacc"]


def write_package(root: Path, subject: str, n_voxels: int = 120, seed: int = 0, rois=None) -> Path:
    """A saved package with planted per-voxel arrays: test r ~ 0.5 * validation r, a repeat story's cc_max; with
    `rois` (neurofin.encoding.VoxelRois) also the per-ROI metrics and success criteria `neurofin evaluate` records."""
    from neurofin.encoding.evaluate import judged_metrics

    rng = np.random.default_rng(seed)
    validation_r = rng.uniform(-0.1, 0.6, n_voxels).astype(np.float32)
    test_r = (0.5 * validation_r + rng.normal(0, 0.05, n_voxels)).astype(np.float64)
    cc_max = np.where(rng.random(n_voxels) < 0.8, rng.uniform(0.3, 0.9, n_voxels), np.nan)
    settings = Settings.model_validate({"timing": {"delays": [1, 2]}, "encoding": {"alphas": ALPHA_GRID},
                                        "features": {"model": "/models/tiny-lm.gguf", "blocks": [2, 3]}})
    record = make_record(subject, settings, n_blocks=2, dim=2).model_copy(update={
        "split": StorySplit(train=["story_a"], validation=["story_v"], test=["story_t"]),
        "fit": FitRecord(solver="ridge", backend="numpy", alphas_grid=ALPHA_GRID, wall_s={})})
    model = EncodingModel(
        record=record, weights=rng.normal(size=(4 * 2, n_voxels)).astype(np.float32),
        feature_mean=np.zeros(4, np.float32), feature_std=np.ones(4, np.float32),
        arrays={"alphas": rng.choice(ALPHA_GRID, n_voxels), "cv_r": rng.normal(0, 0.1, n_voxels),
                "validation_r": validation_r},
        scores={"test_r": test_r, "cc_max/story_t": cc_max},
    )
    if rois is not None:
        model.metrics = {"subject": subject, "n_voxels": n_voxels, "test_mean_r": float(test_r.mean()),
                         **judged_metrics(test_r, validation_r, record.voxel_selection.threshold, rois)}
    return model.save(root / subject)


def write_rois(path: Path, n: int = 300, seed: int = 0) -> Path:
    """infer-style output: 'language' planted to rise with n_words, 'limbic' independent of it, 'nacc' all NaN."""
    rng = np.random.default_rng(seed)
    n_words = rng.integers(3, 120, n)
    frames = []
    for subject in ("UTS01", "ensemble"):
        frames.append(pd.DataFrame({
            "id": [f"c{i}" for i in range(n)], "subject": subject, "n_words": n_words, "truncated": False, "error": None,
            "language": 0.01 * n_words + rng.normal(0, 0.2, n), "limbic": rng.normal(0, 1, n), "nacc": np.nan,
        }))
    pd.concat(frames, ignore_index=True).to_parquet(path, index=False)
    return path


HOSTILE = "<script>alert('x')</script>"


def explanation_texts(rois: Path) -> pd.DataFrame:
    """Texts for the scored ids of `rois` (id, text), each with a hostile word that must come out escaped."""
    ids = pd.read_parquet(rois)["id"].drop_duplicates()
    return pd.DataFrame({"id": ids, "text": [f"stock {i} {HOSTILE} went & up" for i in range(len(ids))]})


def planted_explain(rois: Path, seed: int = 0):
    """A stand-in for Predictor.explain: random word contributions per subject that sum to the text's scored values."""
    scores = pd.read_parquet(rois)
    by_text = explanation_texts(rois).set_index("text")["id"]
    rng = np.random.default_rng(seed)

    def explain(text: str) -> pd.DataFrame:
        words = text.split()
        frames = []
        for subject, row in scores[scores["id"] == by_text[text]].set_index("subject").iterrows():
            noise = rng.normal(0, 1, (len(words), len(ROIS)))
            values = noise - noise.mean(axis=0) + row[ROIS].to_numpy(float) / len(words)
            frames.append(pd.DataFrame(values, columns=ROIS).assign(subject=subject, position=range(len(words)), word=words))
        return pd.concat(frames, ignore_index=True)

    return explain


def write_explanations_file(path: Path, rois: Path) -> Path:
    """The report's explanations file for the two highest and two lowest `limbic` texts of `rois`."""
    from neurofin.infer.explanations_file import write_explanations
    from neurofin.report.explanations import choose_examples
    from neurofin.report.inference import read_scores

    rows, _, _ = read_scores(rois)
    examples = choose_examples(rows.merge(explanation_texts(rois), on="id"), "limbic", source=rois.name)
    return write_explanations(path, examples, planted_explain(rois))


def planted_forecasts(n_sessions: int = 60, seed: int = 0) -> pd.DataFrame:
    """Forecast rows of every backtest model: zero is constant, univariate == hist_mean, roi_known_future == roi,
    and roi carries planted signal (half the realised return plus noise)."""
    rng = np.random.default_rng(seed)
    sessions = pd.bdate_range("2022-01-03", periods=n_sessions)
    index = pd.MultiIndex.from_product([sessions, TICKERS], names=["session", "ticker"]).to_frame(index=False)
    actual = rng.normal(0, 0.02, len(index))
    hist = rng.normal(0, 0.001, len(index))
    roi = 0.5 * actual + rng.normal(0, 0.02, len(index))
    means = {"zero": np.zeros(len(index)), "hist_mean": hist, "univariate": hist, "sentiment": rng.normal(0, 0.01, len(index)),
             "roi": roi, "roi_known_future": roi}
    parts = []
    for model, mean in means.items():
        part = index.assign(model=model, mean=mean, actual=actual, origin=index["session"] - pd.Timedelta(days=1), fold=0)
        for q in QUANTILES:
            part[quantile_column(q)] = mean + (q - 0.5) * 0.05
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


MODELS = ["zero", "hist_mean", "univariate", "sentiment", "roi", "roi_known_future"]
TARGETS = [("raw", 1), ("market_adjusted", 1), ("raw", 5)]
COSTS = [0.0, 5.0, 10.0, 20.0, 50.0]


def planted_value(model: str, target: str, horizon: int) -> float:
    """A distinct, recognisable number per (model, target, horizon); zero's IC is undefined."""
    return np.nan if model == "zero" else 0.01 * (MODELS.index(model) + 1) + 0.1 * (target != "raw") + 0.001 * horizon


def planted_results(metrics: pd.DataFrame) -> pd.DataFrame:
    """Tidy results: the real raw-target IC from metrics, planted IC elsewhere, portfolio rows for 1-session targets
    (Sharpe 0.5 k - 1 with CI +-0.8; the zero model's undefined). roi_known_future repeats roi everywhere;
    univariate has hist_mean's IC but its own Sharpe."""
    records = []
    for target, horizon in TARGETS:
        for model in MODELS:
            source = {"univariate": "hist_mean", "roi_known_future": "roi"}.get(model, model)
            ic = (metrics.set_index("model").loc[source, "ic_mean"] if (target, horizon) == ("raw", 1)
                  else planted_value(source, target, horizon))
            records += [(model, target, horizon, "ic_mean", ic), (model, target, horizon, "n", 360.0)]
            if horizon == 1:
                k = MODELS.index("roi" if model == "roi_known_future" else model)
                sharpe = np.nan if model == "zero" else 0.5 * k - 1 + 0.25 * (target != "raw")
                records += [(model, target, horizon, name, sharpe + shift)
                            for name, shift in (("sharpe", 0.0), ("sharpe_low", -0.8), ("sharpe_high", 0.8))]
    return pd.DataFrame(records, columns=["model", "target", "horizon", "metric", "value"])


def planted_increments() -> pd.DataFrame:
    """Two controls on two targets; only sentiment+roi on the raw target holds."""
    rows = []
    for target in ("raw", "market_adjusted"):
        for base, cw_t, p in (("sentiment", 3.1, 0.004), ("attention", 0.4, 0.31)):
            held = target == "raw" and base == "sentiment"
            rows.append({"base": base, "augmented": f"{base}+roi", "cw_t": cw_t, "cw_p": p, "ic_base": 0.011,
                         "ic_augmented": 0.052 if held else 0.013, "perm_p": p, "p": p if held else 0.2,
                         "p_holm": 0.008 if held else 0.4, "holds": held, "target": target, "horizon": 1})
    return pd.DataFrame(rows)


def planted_portfolio(sessions: pd.DatetimeIndex, seed: int = 0) -> pd.DataFrame:
    """Daily long-short P&L: zero never trades, univariate == hist_mean, roi_known_future == roi on the raw target;
    on market_adjusted every model differs (so a grouping seen on the figure is the raw target's)."""
    rng = np.random.default_rng(seed)
    parts = []
    for target in ("raw", "market_adjusted"):
        net = {m: rng.normal(0.0005 * k, 0.01, len(sessions)) for k, m in enumerate(MODELS)}
        net["zero"] = np.zeros(len(sessions))
        if target == "raw":
            net["univariate"], net["roi_known_future"] = net["hist_mean"], net["roi"]
        for model, values in net.items():
            turnover = np.zeros(len(sessions)) if model == "zero" else np.full(len(sessions), 0.4)
            parts.append(pd.DataFrame({"session": sessions, "model": model, "gross": values + 0.001 * turnover,
                                       "net": values, "turnover": turnover, "cum_net": np.cumsum(values),
                                       "target": target}))
    return pd.concat(parts, ignore_index=True)


def planted_cost_sweep() -> pd.DataFrame:
    """Sharpe falling with cost; zero undefined; univariate == hist_mean and roi_known_future == roi."""
    rows = []
    for target in ("raw", "market_adjusted"):
        for k, model in enumerate(MODELS):
            base = {"univariate": 1, "roi_known_future": 4}.get(model, k)
            for cost in COSTS:
                sharpe = np.nan if model == "zero" else 0.4 * base - 0.02 * cost
                rows.append({"model": model, "cost_bps": cost, "sharpe": sharpe, "sharpe_low": sharpe - 0.7,
                             "sharpe_high": sharpe + 0.7, "ann_return_net": sharpe * 0.1, "target": target})
    return pd.DataFrame(rows)


def write_backtest_outputs(folder: Path, forecasts: pd.DataFrame, metrics: pd.DataFrame) -> None:
    """The per-target files of issue 13 (results, increments, portfolio P&L, cost sweep), planted."""
    results = planted_results(metrics)
    results.to_parquet(folder / "results.parquet", index=False)
    results.to_csv(folder / "results.csv", index=False)
    planted_increments().to_csv(folder / "increments.csv", index=False)
    planted_portfolio(pd.DatetimeIndex(sorted(forecasts["session"].unique()))).to_parquet(
        folder / "portfolio_daily.parquet", index=False)
    planted_cost_sweep().to_csv(folder / "cost_sweep.csv", index=False)


def write_backtest(folder: Path, n_tickers_frequency: int | None = None, seed: int = 0, outputs: bool = True) -> Path:
    """A backtest folder in the layout of `neurofin market backtest`, metrics from the real evaluation code;
    `outputs=False`: an older folder without the per-target files."""
    folder.mkdir(parents=True, exist_ok=True)
    forecasts = planted_forecasts(seed=seed)
    metrics = evaluate(forecasts, QUANTILES)
    tickers = TICKERS if n_tickers_frequency is None else [f"T{i:03d}" for i in range(n_tickers_frequency)]
    frequencies = pd.DataFrame(np.random.default_rng(seed).random((len(ROIS), len(tickers))) < 0.3,
                               index=ROIS, columns=tickers).astype(float)
    forecasts.to_parquet(folder / "forecasts.parquet", index=False)
    metrics.to_csv(folder / "metrics.csv", index=False)
    daily_ic(forecasts).to_csv(folder / "daily_ic.csv", index=True)
    frequencies.to_csv(folder / "selection_frequency.csv", index=True)
    settings = {"window": "expanding", "train_sessions": 100, "step_sessions": 20, "embargo_sessions": 1, "seed": 0,
                "quantile_levels": QUANTILES, "cost_bps": 10.0}
    if outputs:
        write_backtest_outputs(folder, forecasts, metrics)
    null = permutation_ic_test(forecasts, "roi", "univariate", draws=200).to_record()
    increments = planted_increments()
    primary_increments = increments[increments["target"] == "raw"]
    summary = BacktestSummary.model_validate({
        "verdict": decide(metrics, "roi", "raw", primary_increments), "forecaster": "linear", "forecaster_name": "linear",
        "n_folds": 3, "settings": settings, "primary_model": "roi", "primary_target": "raw",
        "targets": ["market_adjusted:1", "raw:1", "raw:5"], "permutation_null": null})
    (folder / "summary.json").write_text(summary.model_dump_json())
    return folder


@pytest.fixture(scope="session")
def report_inputs(tmp_path_factory) -> dict[str, Path]:
    """Packages (two subjects), an infer output and a backtest folder, written once per session."""
    root = tmp_path_factory.mktemp("report-inputs")
    for k, subject in enumerate(("UTS01", "UTS02")):
        write_package(root / "models", subject, seed=k)
    rois = write_rois(root / "rois.parquet")
    return {"packages": root / "models", "rois": rois, "backtest": write_backtest(root / "backtest"),
            "explanations": write_explanations_file(root / "explanations.parquet", rois)}


class IdentityMap:
    """The synthetic twin's anatomy IS the MNI template: the exact registration is the identity (no ANTs run)."""

    @contextlib.contextmanager
    def __call__(self, anat_path, mode):
        yield self

    def subject_to_mni(self, points_mm: np.ndarray) -> np.ndarray:
        return np.asarray(points_mm, dtype=np.float64)

    def mni_to_subject(self, points_mni: np.ndarray) -> np.ndarray:
        return np.asarray(points_mni, dtype=np.float64)


@pytest.fixture(scope="session")
def full_report(tmp_path_factory, report_inputs) -> dict[str, Path]:
    """A report over a tiny synthetic twin (2 subjects, identity registration), its infer output and a backtest."""
    from neurofin.atlas import subject as subject_module
    from neurofin.data.synth import make_synthetic_dataset
    from neurofin.encoding.roi_scores import VoxelRois
    from neurofin.report.build import build_report

    root = tmp_path_factory.mktemp("full-report")
    dataset = make_synthetic_dataset(root / "synth", n_subjects=2, n_stories=1, n_voxels=300)
    saved = subject_module.register_to_mni
    subject_module.register_to_mni = IdentityMap()
    try:
        for k, subject in enumerate(dataset.subjects()):
            subject_module.subject_atlas(dataset, subject, root / "atlas-cache")
            rois = VoxelRois(*subject_module.registered_rois(dataset, subject, root / "atlas-cache"))
            write_package(root / "models", subject, n_voxels=int(dataset.mask(subject).sum()), seed=k, rois=rois)
        out = build_report(root / "report.html", root / "models", dataset.root, root / "atlas-cache",
                           report_inputs["rois"], report_inputs["backtest"], flatmap_cache=root / "flat-cache",
                           explanations=report_inputs["explanations"])
    finally:
        subject_module.register_to_mni = saved
    return {"html": out, "root": root}
