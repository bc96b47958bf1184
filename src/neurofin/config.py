"""Typed settings. Defaults are the production configuration; load from TOML, override from the CLI.

Every artifact records `Settings.model_dump(mode="json")` so it can be rebuilt exactly.
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from neurofin.errors import ConfigError
from neurofin.unicode import BOM_ENCODING

logger = logging.getLogger(__name__)

PRODUCTION_MODEL = "meta-llama/Llama-3.1-8B"
TEST_STORY = "wheretheressmoke"
# Every story that is a test story for some ds003020 subject (docs/REFERENCE.md): never fitted on, for any subject.
REAL_TEST_STORIES = [TEST_STORY, "fromboyhoodtofatherhood"]


def parse_subjects(spec: str | list[str] | None) -> list[str] | None:
    """'UTS01,UTS02' (or a list) -> ['UTS01', 'UTS02']; None or '' -> None (every subject)."""
    if spec is None:
        return None
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    subjects = [s.strip() for s in items if s.strip()]
    return subjects or None


def parse_index_list(spec: str | list[int] | tuple[int, ...]) -> list[int]:
    """Parse '24-31', '0,2,5-7' or a list of ints into a sorted list of unique ints."""
    if isinstance(spec, (list, tuple)):
        try:
            return sorted({int(v) for v in spec})
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"cannot read index list {spec!r}: use whole numbers, e.g. [24, 25] or '24-31'") from None
    out: set[int] = set()
    for part in str(spec).replace(" ", "").split(","):
        if not part:
            continue
        try:
            if "-" in part[1:]:
                lo, hi = part.split("-", 1) if not part.startswith("-") else (part, part)
                lo_i, hi_i = int(lo), int(hi)
                if hi_i < lo_i:
                    raise ValueError
                out.update(range(lo_i, hi_i + 1))
            else:
                out.add(int(part))
        except ValueError:
            raise ConfigError(f"cannot read index list {spec!r}: use e.g. '24-31' or '0,2,5-7'") from None
    if not out:
        raise ConfigError(f"index list {spec!r} is empty: use e.g. '24-31'")
    return sorted(out)


# List items with a range (the settings schema shows every range; tests/test_config.py walks it).
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Probability = Annotated[float, Field(gt=0, lt=1)]


class _Section(BaseModel):
    """Unknown keys are refused; every float must be finite (no NaN or infinity anywhere)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class DataSettings(_Section):
    """Where ds003020 lives and which subjects/stories to use."""

    data_root: Path | None = None  # default for every command's --data-root
    subjects: list[str] | None = None  # default for every command's --subjects; None = every subject found
    test_stories: list[str] = Field(default_factory=lambda: [TEST_STORY], min_length=1)
    held_out_stories: list[str] = Field(default_factory=lambda: list(REAL_TEST_STORIES))  # never train or validate

    @field_validator("subjects", mode="before")
    @classmethod
    def _subjects(cls, v: Any) -> Any:
        return parse_subjects(v) if isinstance(v, str) else v


class TimingSettings(_Section):
    """The reference TR grid (docs/REFERENCE.md section 2) and FIR delays."""

    tr_s: float = Field(2.0, gt=0)  # the reference uses 2.0; the scanner's true TR is 2.0045 (option, not default)
    sound_start_s: float = Field(10.0, ge=0)  # sound starts 10 s after the first simulated TR
    pad_trs: int = Field(5, ge=0)  # simulated grid has respdict - pad_trs TRs
    trim_start: int = Field(10, ge=0)  # rows [trim_start : -trim_end] are kept -> respdict - 20 rows
    trim_end: int = Field(5, ge=0)
    delays: list[NonNegativeInt] = Field(default_factory=lambda: [1, 2, 3, 4], min_length=1)
    lanczos_window: int = Field(3, ge=1)
    lanczos_cutoff_mult: float = Field(1.0, gt=0)

    @field_validator("delays", mode="before")
    @classmethod
    def _delays(cls, v: Any) -> list[int]:
        return parse_index_list(v)


class FeatureSettings(_Section):
    """Which causal LM, which blocks, how much context (docs/REFERENCE.md section 5)."""

    model: str = PRODUCTION_MODEL  # HF id, local directory, or .gguf file
    revision: str | None = None
    gguf_file: str | None = None
    blocks: list[NonNegativeInt] = Field(default_factory=lambda: list(range(24, 32)))
    context_tokens: int = Field(512, ge=1)
    mode: Literal["strided", "exact"] = "strided"
    stride: int = Field(2048, ge=1)  # strided mode: positions kept per window; chosen by benchmarks/bench_features.py
    batch_size: int = Field(8, ge=1)
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    device: str = "auto"
    load_in_4bit: bool = False
    cache_dir: Path | None = None

    @field_validator("blocks", mode="before")
    @classmethod
    def _blocks(cls, v: Any) -> list[int]:
        return parse_index_list(v)


class EncodingSettings(_Section):
    """Ridge fitting and evaluation (docs/REFERENCE.md sections 3-4)."""

    solver: Literal["ridge", "banded", "kernel", "auto"] = "auto"
    alphas: list[Positive] = Field(default_factory=lambda: [10.0**e for e in range(0, 11)], min_length=1)  # ridge penalties
    cv_folds: int = Field(5, ge=2)
    validation_stories: int = Field(8, ge=1)  # held out from training to select voxels for ROI averaging
    pca_components: int | None = Field(1024, ge=1)  # pre-delay PCA keeping component variances (no whitening); None = full
    blocks_per_band: int = Field(1, ge=1)  # banded solver: consecutive feature blocks sharing one band
    banded_iterations: int = Field(20, ge=1)  # banded solver: random-search samples of the band scalings
    top_fraction: float = Field(0.05, gt=0, le=1)  # voxels reported as "top": this fraction by VALIDATION r
    voxel_r_threshold: float = Field(0.05, ge=-1, lt=1)  # region averages use voxels with validation r above this
    backend: Literal["auto", "numpy", "torch", "torch_cuda"] = "auto"
    n_targets_batch: int | None = Field(None, ge=1)
    n_alphas_batch: int | None = Field(None, ge=1)
    n_targets_batch_refit: int | None = Field(None, ge=1)
    seed: int = Field(0, ge=0)


class AtlasSettings(_Section):
    """ROIs over the packaged Schaefer 1000-parcel 7-network atlas and the registration cache (docs/REFERENCE.md section 6)."""

    roi_file: Path | None = None  # edited ROI definitions (TOML); None = the packaged rois.toml
    cache_dir: Path | None = None  # registration cache; None = the user cache dir


class InferSettings(_Section):
    """Scoring texts with trained packages (neurofin infer)."""

    level: Literal["rois", "parcels"] = "rois"
    voxel_r_threshold: float | None = Field(None, ge=-1, lt=1)  # None = each package's recorded rule
    batch_size: int = Field(256, ge=1)  # texts per batch; each finished batch is kept for resuming
    max_words: int = Field(256, ge=1)  # longer texts are truncated (and flagged)
    context_prefix: str = "neutral_story"  # read by the LM before each text, not scored: "none", "neutral_story", a text, or
    # "neutral_stories" (3 packaged passages, one LM pass each, values averaged: prefix-robust, 3x the LM time)
    # or "parallel_stories" (those 3 and 3 more packaged passages side by side in one LM pass: features/context.py)
    embedding_dims: int = Field(64, ge=0)  # no-brain control: `emb_*` columns of the LM features (0 = none written)


TargetKind = Literal["raw", "market_adjusted", "absolute", "open_to_close"]  # forecast targets (docs/backtest.md)


class MarketSettings(_Section):
    """Market stage: feature filters (ISC, Granger), forecasting and the walk-forward backtest (docs/REFERENCE.md section 7)."""

    # ingestion, tickers, calendar (neurofin.market.comments.ingest/tickers/calendar)
    subreddits: list[str] = Field(default_factory=lambda: ["wallstreetbets", "stocks", "investing"])
    extra_bot_authors: list[str] = Field(default_factory=list)  # added to ingest's built-in bots and *bot names
    symbols_file: Path | None = None  # SYMBOL[,alias|alias] per line; None = shipped whitelist
    blacklist_file: Path | None = None  # one word per line; None = shipped blacklist
    lexicon_file: Path | None = None  # term,score CSV of the "slang" sentiment extra; None = shipped slang list
    sentiment_extras: list[Literal["slang", "finance_model"]] = Field(default_factory=list)  # beside VADER and LM
    finance_sentiment_model: str = "ProsusAI/finbert"  # HF id or local folder of the "finance_model" extra
    exchange: str = "XNYS"  # exchange_calendars code for session assignment
    isc_scope: Literal["pooled", "ticker"] = "pooled"  # ISC per ROI pooled over tickers, or per ROI x ticker
    isc_null_shifts: int = Field(200, ge=1)  # circular time-shift null draws
    isc_null_quantile: float = Field(0.95, gt=0, lt=1)  # threshold on the MEAN LEAVE-ONE-OUT ISC = this null quantile
    isc_min_shift: int = Field(5, ge=1)  # smallest circular shift (sessions) in the null
    granger_max_lag: int = Field(5, ge=1)
    granger_lag_criterion: Literal["fixed", "aic", "bic"] = "bic"  # "fixed" uses granger_max_lag
    fdr_alpha: float = Field(0.1, gt=0, le=1)  # Benjamini-Hochberg level over features x tickers
    # "pooled_ic": the one ROI whose training-window IC pooled across tickers is strongest; "granger": per ticker
    # Granger + BH (granger_*, fdr_alpha); docs/backtest.md "Walk-forward folds and selection"
    selection_rule: Literal["pooled_ic", "granger"] = "pooled_ic"
    forecaster: str = Field("chronos", min_length=1)  # a registered forecaster (neurofin.market.forecast.registry): chronos, linear, ...
    chronos_model: str = "amazon/chronos-2"  # HF id or local directory
    chronos_device: str = "auto"
    ridge_alpha: float = Field(1.0, gt=0)  # linear forecaster penalty on standardised covariates
    quantile_levels: list[Probability] = Field(default_factory=lambda: [round(0.1 * k, 1) for k in range(1, 10)],
                                               min_length=1)
    window: Literal["expanding", "rolling"] = "expanding"
    train_sessions: int = Field(250, ge=1)  # first (expanding) or every (rolling) training window, in sessions
    step_sessions: int = Field(20, ge=1)  # test sessions per walk-forward fold (features re-selected each fold)
    embargo_sessions: int = Field(1, ge=0)  # sessions skipped between training end and the first test session
    seed: int = Field(0, ge=0)
    # issue 12: timing, staleness, null, verdict, input hygiene (docs/backtest.md)
    session_span: Literal["comments", "prices"] = "comments"  # backtest sessions: the comment panel's span, or all prices
    max_stale_sessions: int = Field(5, ge=0)  # a ticker's ROI features are carried forward at most this many sessions
    min_comments: int = Field(1, ge=1)  # a ticker-session cell with fewer comments counts as missing
    primary_model: Literal["roi", "roi_known_future", "sentiment"] = "roi"  # the one model that decides the verdict
    null_draws: int = Field(500, ge=1, le=20000)  # permutation-null draws of the primary model's IC (backtest: >= 200)
    # the primary model's Clark-West p from the fixed-regressor bootstrap (linear forecaster; off: the t(dof) p), with
    # enough draws for a p below 5% ((1 + 0) / (1 + draws) < 0.05) and few enough for memory (tickers x days x draws)
    cw_bootstrap: bool = True
    cw_bootstrap_draws: int = Field(200, ge=20, le=2000)
    price_column: str | None = None  # price column to read; None: adjusted close if present, else close
    keep_edited: bool = False  # keep comments edited after posting (their text may postdate created_utc)
    allow_authors: list[str] = Field(default_factory=list)  # never treated as bots (added to ingest's allow-list)
    isc_min_loo: float = Field(0.3, ge=-1, le=1)  # absolute floor on the mean leave-one-out ISC (besides the shift-null quantile)
    roi_quality_file: Path | None = None  # roi,subject,validation_r table: the encoding-quality gate
    min_roi_validation_r: float = Field(0.05, ge=-1, le=1)  # ROIs whose median validation r is below this are never selected
    # issue 13: tradable timing, targets, controls, portfolio (docs/backtest.md)
    cutoff_minutes: int = Field(30, ge=0)  # comments this close to the session close count for the next session
    targets: list[TargetKind] = Field(
        default_factory=lambda: list(get_args(TargetKind)), min_length=1
    )  # open_to_close is skipped (with a note) when the prices have no open
    horizons: list[PositiveInt] = Field(default_factory=lambda: [1, 5], min_length=1)  # sessions per forecast target
    primary_target: TargetKind = "raw"  # the verdict's target (horizon 1)
    index_file: Path | None = None  # market index prices for market_adjusted; None = equal-weight universe mean
    attention_window: int = Field(20, ge=2)  # trailing sessions of the attention control's "change vs mean"
    portfolio_quantiles: int = Field(5, ge=2)  # long the top, short the bottom of this many forecast buckets
    cost_bps: float = Field(10.0, ge=0)  # one-way trading cost per unit of turnover, in basis points
    cost_sweep_bps: list[NonNegative] = Field(default_factory=lambda: [0.0, 5.0, 10.0, 20.0, 50.0])
    bootstrap_draws: int = Field(1000, ge=100)  # block-bootstrap draws of the Sharpe ratio's 95% CI
    projection_draws: int = Field(9, ge=0, le=99)  # random projections of the LM embedding the ROI model is ranked against


class Settings(_Section):
    """All settings of a neurofin run."""

    data: DataSettings = Field(default_factory=DataSettings)
    timing: TimingSettings = Field(default_factory=TimingSettings)
    features: FeatureSettings = Field(default_factory=FeatureSettings)
    encoding: EncodingSettings = Field(default_factory=EncodingSettings)
    atlas: AtlasSettings = Field(default_factory=AtlasSettings)
    infer: InferSettings = Field(default_factory=InferSettings)
    market: MarketSettings = Field(default_factory=MarketSettings)

    @classmethod
    def load(cls, toml_path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
        """Defaults, updated by a TOML file, updated by dotted-key overrides ({'features.blocks': '0-3'})."""
        raw: dict[str, Any] = {}
        if toml_path is not None:
            path = Path(toml_path)
            if not path.is_file():
                raise ConfigError(f"config file {path} not found: give an existing TOML file")
            try:
                raw = tomllib.loads(path.read_text(encoding=BOM_ENCODING))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"config file {path} is not valid TOML ({exc}); fix the line it names (UTF-8 text)") from None
        for dotted, value in (overrides or {}).items():
            if value is None:
                continue
            node = raw
            *parents, leaf = dotted.split(".")
            for key in parents:
                node = node.setdefault(key, {})
                if not isinstance(node, dict):
                    raise ConfigError(f"cannot set {dotted}: {key} is not a [section] in the --config file; fix that file")
            node[leaf] = value
        logger.debug("settings: defaults <- %s <- overrides %s", toml_path or "no --config file",
                     {k: v for k, v in (overrides or {}).items() if v is not None})
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            lines = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"invalid settings ({lines}); `neurofin config --toml` prints every key with its default") from None

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready record written into every artifact."""
        return self.model_dump(mode="json")

    def to_toml(self) -> str:
        """The settings as a TOML file that `Settings.load` reads back to equal settings (unset keys as comments)."""
        import tomli_w

        record = self.to_record()
        lines = ["# neurofin settings: the defaults are the production configuration; edit and pass with --config"]
        lines += [f"# {section}.{key} is unset (None)" for section, values in record.items()
                  for key, value in values.items() if value is None]
        kept = {section: {k: v for k, v in values.items() if v is not None} for section, values in record.items()}
        return "\n".join(lines) + "\n\n" + tomli_w.dumps(kept)
