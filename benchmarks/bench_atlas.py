"""Atlas registration benchmark: runtime and coverage on pycortex's S1 and on the planted synthetic subject.

Uses the test helpers in tests/atlas/conftest.py (S1 fetched once from PyPI into the test cache, pycortex's
`thick` mask re-derived from S1's surfaces; synthetic anatomy moved by a planted rigid transform).

    python benchmarks/bench_atlas.py [--modes syn,affine] [--synth-voxels 2000]

Writes benchmarks/results/atlas_registration.json and prints a table.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from neurofin.atlas import coverage_summary, load_atlas, load_rois, roi_coverage, subject_atlas
from neurofin.data.layout import Dataset
from neurofin.io import write_json_atomic

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "benchmarks" / "results" / "atlas_registration.json"


def _test_helpers():
    spec = importlib.util.spec_from_file_location("atlas_test_helpers", REPO / "tests" / "atlas" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _s1_dataset(helpers, folder: Path) -> tuple[Dataset, np.ndarray, np.ndarray]:
    s1 = helpers.fetch_pycortex_s1(helpers.s1_cache_dir())
    root, hemisphere, surface_mm = helpers.build_s1_dataset(s1, folder / "s1" / "ds003020")
    return Dataset(root), hemisphere, surface_mm


def _timed(dataset: Dataset, subject: str, mode: str, cache: Path, atlas):
    start = time.perf_counter()
    maps = subject_atlas(dataset, subject, cache, mode=mode, atlas=atlas)
    return maps, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="syn,affine")
    parser.add_argument("--synth-voxels", type=int, default=2000)
    args = parser.parse_args()
    helpers = _test_helpers()
    atlas, rois = load_atlas(), load_rois()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        s1, hemisphere, surface_mm = _s1_dataset(helpers, folder)
        from neurofin.data.synth import load_anatomy, make_synthetic_dataset

        synth = make_synthetic_dataset(folder / "synth", n_subjects=1, n_stories=1, n_voxels=args.synth_voxels)
        helpers.plant_transform(synth, "UTS01", helpers.planted_rigid())
        planted = load_anatomy(args.synth_voxels).labels_zyx[synth.mask("UTS01")]
        for mode in args.modes.split(","):
            maps, seconds = _timed(s1, "S1", mode, folder / f"cache-{mode}", atlas)
            parcels = maps.parcels(atlas)
            labelled = parcels > 0
            right = np.array([lab.hemisphere == "RH" for lab in atlas.labels])[parcels[labelled] - 1]
            nacc = next(row for row in roi_coverage(maps, rois, atlas) if row.name == "nacc")
            results.append({
                "subject": "pycortex S1 (256^3 T1, fullhead 31x100x100)", "mode": mode, "seconds": round(seconds, 1),
                **{k: round(v, 4) if isinstance(v, float) else v for k, v in coverage_summary(maps, atlas).items()},
                "thin_voxels_on_ribbon": round(float(np.mean(maps.parcels(atlas, 0.0)[surface_mm < 2.0] > 0)), 4),
                "hemisphere_agreement": round(float(np.mean(right == (hemisphere[labelled] == 1))), 4),
                "nacc_voxels": nacc.n_voxels, "nacc_coverage": round(nacc.coverage, 3),
            })
            maps, seconds = _timed(synth, "UTS01", mode, folder / f"cache-synth-{mode}", atlas)
            results.append({
                "subject": f"synthetic UTS01 (MNI template moved 6 deg + 15 mm, {args.synth_voxels} voxels)", "mode": mode,
                "seconds": round(seconds, 1), "planted_parcel_agreement": round(float(np.mean(maps.parcels(atlas, 0.0) == planted)), 4),
                **{k: round(v, 4) if isinstance(v, float) else v for k, v in coverage_summary(maps, atlas).items()},
            })
    record = {
        "benchmark": "atlas_registration",
        "hardware": {"cpus": os.cpu_count(), "machine": platform.processor() or platform.machine(), "load_1min": os.getloadavg()[0]},
        "results": results,
    }
    write_json_atomic(RESULT, record)
    for row in results:
        print(f"{row['subject']}: " + ", ".join(f"{k}={v}" for k, v in row.items() if k != "subject"))
    print(json.dumps({"written": str(RESULT.relative_to(REPO))}))


if __name__ == "__main__":
    main()
