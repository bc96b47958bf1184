"""neurofin explain: per-word contributions sum exactly to the region values; the planted word class leads."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from planted import REGIONS, fake_language_model, make_planted, planted_explain_cli, text_of

from neurofin.infer.explain import explain_html
from neurofin.infer.predictor import Predictor
from neurofin.schema import ENSEMBLE


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return make_planted(tmp_path_factory.mktemp("planted") / "ds003020")


def test_contributions_sum_to_the_value_and_the_planted_class_leads(planted, monkeypatch):
    fake_language_model(monkeypatch, planted.vocabulary)
    predictor = Predictor.from_models([planted.model], region_matrices=planted.regions(), max_words=300)
    rng = np.random.default_rng(4)
    held = planted.held_out
    class_words = rng.choice(held[planted.is_class[held]], 6, replace=False)
    other_words = rng.choice(held[~planted.is_class[held]], 24, replace=False)
    tokens = rng.permutation(np.concatenate([class_words, other_words]))
    text = text_of(tokens)
    frame = predictor.explain(text)
    values = predictor.predict_rois([text]).set_index("subject")
    for subject in ("UTS01", ENSEMBLE):
        rows = frame[frame["subject"] == subject]
        assert list(rows["word"]) == [f"w{t}" for t in tokens]
        np.testing.assert_allclose(rows[REGIONS].sum().to_numpy(float), values.loc[subject, REGIONS].to_numpy(float), rtol=0, atol=1e-6)
    rows = frame[frame["subject"] == "UTS01"]
    is_class = rows["word"].isin({f"w{t}" for t in class_words}).to_numpy()

    def auc(region):  # share of (class word, other word) pairs where the class word contributes more
        values = rows[region].to_numpy(float)
        return (values[is_class][:, None] > values[~is_class][None, :]).mean()

    assert auc("class_region") >= 0.95  # the planted class gets the largest contributions in its region
    assert (rows.nlargest(6, "class_region")["word"].isin({f"w{t}" for t in class_words})).sum() >= 5
    assert 0.15 <= auc("other") <= 0.85  # and not in a region planted to ignore it
    snippet = explain_html(frame, REGIONS)
    assert snippet.count("<span") == len(REGIONS) * len(tokens) and "class_region" in snippet


def test_explain_cli_prints_the_table_and_writes_html(planted, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    app, package = planted_explain_cli(planted, monkeypatch, tmp_path)
    text = text_of(planted.held_out[:5])
    result = CliRunner().invoke(app, ["explain", text, "--packages", str(package), "--subject", "UTS01",
                                          "--html", str(tmp_path / "x.html")])
    assert result.exit_code == 0, result.output
    assert "class_region" in result.output and "= value" in result.output and "w" + str(planted.held_out[0]) in result.output
    assert (tmp_path / "x.html").read_text().count("<span") == 3 * 5
