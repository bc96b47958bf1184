"""Build the synthetic twin the calibration benchmarks read: the demo's steps 1-2 only (no market, no evaluation).

2 subjects x 12 stories x 400 voxels (the issue's measurement setting), demo feature settings (SmolLM2-135M,
blocks 20-23, context 256, strided 256), registered first so every package carries its voxel map; then
`neurofin calibrate` on the packages (held-out story text of the twin) unless --no-calibrate:
    PYTHONPATH=src python benchmarks/calibration_twin.py TWIN_OUT [--no-calibrate]
TWIN_OUT then has synth/, models/, atlas-cache/ and feature-cache/, like a `neurofin demo --out` folder.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path


def build(out: Path, subjects: int, stories: int, voxels: int, seed: int) -> None:
    """Synthetic twin -> registration -> SmolLM2 features -> one package per subject under out/models."""
    from neurofin.atlas import subject_atlas
    from neurofin.data.synth import make_synthetic_dataset
    from neurofin.demo import demo_settings
    from neurofin.encoding.train import AlphaGridWarning, cached_feature_source
    from neurofin.pipeline import train_package

    dataset = make_synthetic_dataset(out / "synth", subjects, stories, voxels, seed, overwrite=True)
    settings = demo_settings(out, dataset.root)
    for subject in dataset.subjects():
        subject_atlas(dataset, subject, settings.atlas.cache_dir)
    features = cached_feature_source(dataset, settings)
    for subject in dataset.subjects():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AlphaGridWarning)
            print("trained", train_package(dataset, subject, settings, out / "models", features), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--subjects", type=int, default=2)
    parser.add_argument("--stories", type=int, default=12)
    parser.add_argument("--voxels", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    build(args.out, args.subjects, args.stories, args.voxels, args.seed)
    print(f"built in {time.perf_counter() - start:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
