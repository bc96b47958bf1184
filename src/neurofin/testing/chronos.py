"""A tiny randomly initialised Chronos-2 for offline tests and benchmarks of the Chronos-2 code path."""

from __future__ import annotations

from pathlib import Path


def save_random_chronos2(path: str | Path, seed: int = 0) -> Path:
    """Save a randomly initialised ~25k-parameter Chronos-2 at `path` (no download), loadable like a checkpoint.

    For tests and benchmarks of the Chronos-2 code path offline; its forecasts carry no skill.
    """
    import torch
    from chronos.chronos2 import Chronos2Model
    from chronos.chronos2.config import Chronos2CoreConfig

    torch.manual_seed(seed)
    config = Chronos2CoreConfig(
        d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=2, dropout_rate=0.0,
        chronos_config={"context_length": 128, "input_patch_size": 8, "input_patch_stride": 8,
                        "output_patch_size": 8, "quantiles": [0.05, *[round(0.1 * k, 1) for k in range(1, 10)], 0.95],
                        "use_reg_token": True, "use_arcsinh": True, "max_output_patches": 4},
        architectures=["Chronos2Model"], chronos_pipeline_class="Chronos2Pipeline",
    )
    Chronos2Model(config).save_pretrained(Path(path))
    return Path(path)
