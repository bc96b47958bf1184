"""Text length as a confound of ROI values: corr(region value, n_words) over a demo run's scored comments (issue 11).

Reads DEMO_OUT/market/rois.parquet (written by `neurofin demo --out DEMO_OUT`) and reports, per subject and
for the ensemble, Pearson r between each region's value and the comment's word count, and R^2 of the value
on word count. Usage (before/after a readout change, same demo seed):
    python benchmarks/demo_length_confound.py demo_out --label after --out benchmarks/results/demo_length_confound.json
Several runs accumulate under their labels in the JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from neurofin.io import write_json_atomic

META = {"id", "subject", "n_words", "truncated", "error"}


def length_correlations(rois: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per subject (and ensemble): region -> Pearson r(value, n_words) over rows without errors."""
    rois = rois[rois["error"].isna()]
    regions = [c for c in rois.columns if c not in META]
    out = {}
    for subject, rows in rois.groupby("subject"):
        n_words = rows["n_words"].to_numpy(float)
        out[str(subject)] = {
            region: float(np.corrcoef(n_words, rows[region].to_numpy(float))[0, 1])
            for region in regions if rows[region].notna().all() and rows[region].std() > 0
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("demo_out", type=Path)
    parser.add_argument("--label", required=True)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "demo_length_confound.json")
    args = parser.parse_args()
    rois = pd.read_parquet(args.demo_out / "market" / "rois.parquet")
    corr = length_correlations(rois)
    flat = np.array([abs(r) for regions in corr.values() for r in regions.values()])
    ok = rois[rois["error"].isna()]
    summary = {
        "n_comments": int(ok["id"].nunique()),
        "n_words_range": [int(ok["n_words"].min()), int(ok["n_words"].max())],
        "max_abs_corr": float(flat.max()),
        "median_abs_corr": float(np.median(flat)),
        "max_r2": float((flat**2).max()),
        "ensemble_max_abs_corr": float(max(abs(r) for r in corr["ensemble"].values())),
        "corr": corr,
    }
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    results[args.label] = summary
    write_json_atomic(args.out, results)
    print(f"{args.label}: max |corr(region, n_words)| {summary['max_abs_corr']:.3f}, median {summary['median_abs_corr']:.3f} "
          f"over {summary['n_comments']} comments ({summary['n_words_range'][0]}-{summary['n_words_range'][1]} words) -> {args.out}")


if __name__ == "__main__":
    main()
