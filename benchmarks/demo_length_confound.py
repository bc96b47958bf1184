"""Text length as a confound of ROI values: corr(region value, n_words) over a demo run's scored comments (issue 11).

Reads DEMO_OUT/market/rois.parquet (written by `neurofin demo --out DEMO_OUT`) and reports, per subject and
for the ensemble, Pearson r between each region's value and the comment's word count, and R^2 of the value
on word count. Usage (before/after a readout change, same demo seed):
    python benchmarks/demo_length_confound.py demo_out --label after --out benchmarks/results/demo_length_confound.json
Several runs accumulate under their labels in the JSON. The demo's comments come from 12 templates, so the
script also reports a template-shuffle null (template_null): the max |corr| that content alone gives.
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


def template_null(rois: pd.DataFrame, comments: pd.DataFrame, n_perm: int = 2000, seed: int = 0) -> dict[str, float]:
    """The demo's comments come from 12 templates, so n_words is a template property and corr(region, n_words) is
    a correlation over 12 template means: content alone makes it large. Null: shuffle n_words among templates
    (each keeps its region values), max |corr| over subject x region; returns its 50th/95th percentiles."""
    import re

    from neurofin.market.demo import TEMPLATES

    patterns = [re.compile("^" + re.escape(t).replace(re.escape("{t}"), r"\S+") + "$") for t in TEMPLATES]
    template = {b: next((i for i, p in enumerate(patterns) if p.match(b)), -1) for b in comments["body"].unique()}
    body = dict(zip(comments["id"].astype(str), comments["body"]))
    ok = rois[rois["error"].isna()].copy()
    ok["template"] = [template[body[i]] for i in ok["id"].astype(str)]
    ok = ok[ok["template"] >= 0]
    regions = [c for c in ok.columns if c not in META | {"template"}]
    n_words = ok.groupby("template")["n_words"].first()
    rng = np.random.default_rng(seed)
    maxima = []
    for _ in range(n_perm):
        shuffled = dict(zip(n_words.index, rng.permutation(n_words.to_numpy())))
        best = 0.0
        for _, rows in ok.groupby("subject"):
            n = rows["template"].map(shuffled).to_numpy(float)
            values = rows[regions].to_numpy(float)
            keep = np.isfinite(values).all(axis=0) & (values.std(axis=0) > 0)
            if n.std() > 0 and keep.any():
                corr = np.corrcoef(np.column_stack([n, values[:, keep]]).T)[0, 1:]
                best = max(best, float(np.abs(corr).max()))
        maxima.append(best)
    return {"n_templates": int(n_words.size), "null_max_abs_corr_p50": float(np.percentile(maxima, 50)),
            "null_max_abs_corr_p95": float(np.percentile(maxima, 95)), "n_perm": n_perm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("demo_out", type=Path)
    parser.add_argument("--label", required=True)
    parser.add_argument("--n-perm", type=int, default=500, help="template-shuffle null draws")
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
        "template_null": template_null(rois, pd.read_parquet(args.demo_out / "market" / "comments.parquet"), args.n_perm),
        "corr": corr,
    }
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    results[args.label] = summary
    write_json_atomic(args.out, results)
    null = summary["template_null"]
    print(f"{args.label}: max |corr(region, n_words)| {summary['max_abs_corr']:.3f}, median {summary['median_abs_corr']:.3f} "
          f"over {summary['n_comments']} comments ({summary['n_words_range'][0]}-{summary['n_words_range'][1]} words); "
          f"template-shuffle null max |corr| p50 {null['null_max_abs_corr_p50']:.3f}, p95 {null['null_max_abs_corr_p95']:.3f} -> {args.out}")


if __name__ == "__main__":
    main()
