"""Inference section: length correlations with confidence intervals, against a hand-computed Fisher z interval."""

import numpy as np
import pandas as pd
import pytest

from neurofin.errors import InputError
from neurofin.report.inference import inference_section, length_correlations, read_scores


def fisher_interval(x, y):
    r = np.corrcoef(x, y)[0, 1]
    half = 1.959963984540054 / np.sqrt(len(x) - 3)
    return r, np.tanh(np.arctanh(r) - half), np.tanh(np.arctanh(r) + half)


def test_planted_length_effect_is_found_and_the_null_covers_zero(report_inputs):
    rows, subject, rois = read_scores(report_inputs["rois"])
    assert subject == "ensemble" and rois == ["language", "limbic", "nacc"] and len(rows) == 300
    table = length_correlations(rows, rois).set_index("roi")
    for roi in ("language", "limbic"):
        r, low, high = fisher_interval(rows["n_words"].to_numpy(float), rows[roi].to_numpy(float))
        assert table.loc[roi, ["r_n_words", "ci_low", "ci_high"]].to_numpy() == pytest.approx([r, low, high], abs=1e-9)
    assert table.loc["language", "ci_low"] > 0.5  # planted: rises with length
    assert table.loc["limbic", "ci_low"] < 0 < table.loc["limbic", "ci_high"]  # planted: independent
    assert np.isnan(table.loc["nacc", "r_n_words"]) and table.loc["nacc", "n"] == 0


def test_section_without_explanations_says_how_to_make_them(report_inputs):
    html = inference_section(report_inputs["rois"]).html()
    assert "Largest |r| with length: language" in html
    assert "No values (the region keeps no voxel of any subject): nacc." in html
    assert "No word attributions: pass --explanations FILE" in html


def test_a_file_that_is_not_an_infer_output_is_a_user_error(tmp_path):
    path = tmp_path / "x.csv"
    pd.DataFrame({"a": [1]}).to_csv(path, index=False)
    with pytest.raises(InputError, match="not an output of `neurofin infer`"):
        read_scores(path)
    with pytest.raises(InputError, match="does not exist"):
        read_scores(tmp_path / "missing.parquet")


def test_embedding_columns_are_not_regions(report_inputs, tmp_path):
    scores = pd.read_parquet(report_inputs["rois"])
    with_embedding = scores.assign(emb_000=scores["n_words"] * 2.0, emb_001=0.5)  # infer's no-brain control columns
    path = tmp_path / "rois.parquet"
    with_embedding.to_parquet(path)
    _, _, rois = read_scores(path)
    assert rois == ["language", "limbic", "nacc"]
    assert "emb_000" not in inference_section(path).html()
