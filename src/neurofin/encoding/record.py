"""The typed record of an encoding package (config.json): what was fitted, on what, and how to rebuild its inputs.

One pydantic model, read by attribute everywhere; frozen, so nothing changes a package's record after
fitting. `FORMAT_VERSION` changes whenever the stored fields or tensors change meaning; a package of
another version is refused with a message saying how to get a current one, never a KeyError.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from neurofin.config import FeatureSettings, Settings, TimingSettings
from neurofin.encoding.design import StorySplit
from neurofin.errors import PackageIntegrityError

FORMAT_VERSION = 3  # 3: word_mean tensor (the readout's reference word)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeatureRecord(_Record):
    """What the word features were made of (their identity) and their shape."""

    model: str
    revision: str | None
    gguf_file: str | None
    blocks: list[int]
    context_tokens: int
    mode: str
    stride: int
    n_blocks: int = Field(gt=0)
    dim: int = Field(gt=0)

    @classmethod
    def from_settings(cls, settings: FeatureSettings, n_blocks: int, dim: int) -> FeatureRecord:
        """The identity fields of `settings` plus the feature shape seen in training."""
        identity = settings.model_dump(include={"model", "revision", "gguf_file", "blocks", "context_tokens", "mode", "stride"})
        return cls(**identity, n_blocks=n_blocks, dim=dim)

    def key(self) -> str:
        """Identity as a string: packages with equal keys can share one language-model pass."""
        return self.model_dump_json(exclude={"n_blocks", "dim"})


class FitRecord(_Record):
    """How the ridge fit ran."""

    solver: str
    backend: str
    alphas_grid: list[float]
    wall_s: dict[str, float]
    # (smallest nonzero, largest) eigenvalue of the training design's X'X: where the alpha grid's ends are plateaus
    # (evaluate.open_edges); None when the design was too large to decompose
    design_eigenvalues: tuple[float, float] | None = None


class VoxelSelection(_Record):
    """Which voxels region averages and "top voxel" summaries use: scored on validation stories, never test."""

    rule: Literal["validation_r > threshold"] = "validation_r > threshold"
    score: str = "pearson r on validation stories (held out from fitting; never the test story)"
    threshold: float = Field(ge=-1.0, lt=1.0)
    top_fraction: float = Field(gt=0.0, le=1.0)  # the "top voxels" reported by evaluate: this fraction by validation r


class PackageRecord(_Record):
    """config.json of an encoding package."""

    format_version: Literal[3] = 3  # FORMAT_VERSION
    neurofin_version: str
    subject: str
    mask_sha256: str | None  # SHA-256 of the subject's cortical mask (None without a pycortex-db)
    settings: Settings
    features: FeatureRecord
    fit: FitRecord
    split: StorySplit
    voxel_selection: VoxelSelection
    speech_rate_wps: float = Field(gt=0.0)  # median training-story words/s: the pace of pseudo-time inference
    word_form: Literal["transcript-v1"] = "transcript-v1"  # how new text is cut into words (infer/text.py WORD_FORM)

    @property
    def timing(self) -> TimingSettings:
        """The TR grid, trims and delays the model was fitted with."""
        return self.settings.timing

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready dict written to config.json."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, raw: Any, source: str) -> PackageRecord:
        """Validate a config.json dict; an old or foreign record gets a message saying what to do."""
        version = raw.get("format_version") if isinstance(raw, dict) else None
        if version != FORMAT_VERSION:
            raise PackageIntegrityError(
                f"{source} is an encoding package of format {version}, this neurofin reads format {FORMAT_VERSION}: "
                "re-run `neurofin train` (the feature cache is reused, so only the fit is repeated)"
            )
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
            raise PackageIntegrityError(f"{source} has an invalid package record ({fields}); re-run `neurofin train`") from None
