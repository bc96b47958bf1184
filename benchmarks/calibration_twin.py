"""Build the synthetic twin the calibration benchmark reads: the demo's steps 1-2 only (no market, no evaluation).

2 subjects x 12 stories x 400 voxels (issue 20's measurement setting), demo feature settings (SmolLM2-135M,
blocks 20-23, context 256, strided 256), registered first so every package carries its voxel map
(tests/infer/twin_texts.build_twin):
    PYTHONPATH=src python benchmarks/calibration_twin.py TWIN_OUT
TWIN_OUT then has synth/, models/, atlas-cache/ and feature-cache/; benchmarks/length_confound.py reads it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "infer"))

from twin_texts import build_twin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--subjects", type=int, default=2)
    parser.add_argument("--stories", type=int, default=12)
    parser.add_argument("--voxels", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--validation-stories", type=int, help="held out for voxel selection and the calibration "
                        "corpus (default: the demo's 3; with the test story, 4 held-out stories)")
    args = parser.parse_args()
    start = time.perf_counter()
    packages = build_twin(args.out, args.subjects, args.stories, args.voxels, args.seed, args.validation_stories)
    print(f"{len(packages)} packages in {time.perf_counter() - start:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
