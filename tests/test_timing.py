"""Timing: reference Lanczos, TR grid, row counts for all 82 stories, delays, per-story design rows."""

import json

import numpy as np
import pytest

from neurofin.config import TimingSettings
from neurofin.errors import RowCountError
from neurofin.testing.design import story_design
from neurofin.timing import expected_rows, lanczos_interp, make_delayed, tr_centres, trim, zscore


def reference_lanczos(data, oldtime, newtime, window=3, cutoff_mult=1.0):
    """A direct loop over the reference lanczosinterp2D formula (docs/REFERENCE.md section 2)."""
    cutoff = 1 / np.mean(np.diff(newtime)) * cutoff_mult
    sincmat = np.zeros((len(newtime), len(oldtime)))
    for i in range(len(newtime)):
        for j in range(len(oldtime)):
            t = (newtime[i] - oldtime[j]) * cutoff
            if t == 0:
                val = 1.0
            elif abs(t) > window:
                val = 0.0
            else:
                val = window * np.sin(np.pi * t) * np.sin(np.pi * t / window) / (np.pi**2 * t**2)
            sincmat[i, j] = val
    return sincmat @ data


@pytest.mark.parametrize("window,cutoff_mult", [(3, 1.0), (5, 0.8), (2, 1.5)])
def test_lanczos_matches_reference_loop(window, cutoff_mult):
    rng = np.random.default_rng(0)
    old = np.sort(rng.uniform(-10, 300, 400))
    old[5] = old[4]  # duplicated word times happen in real transcripts
    new = tr_centres(170)
    new_exact = np.concatenate([new, old[10:12]])  # include t == 0 exactly
    data = rng.standard_normal((400, 7))
    ours = lanczos_interp(data, old, new_exact, window, cutoff_mult)
    ref = reference_lanczos(data, old, new_exact, window, cutoff_mult)
    assert np.max(np.abs(ours - ref)) <= 1e-10


def test_lanczos_is_unnormalised_sum_of_nearby_words():
    """A word exactly on a TR centre contributes weight 1; words beyond the window contribute nothing."""
    new = np.arange(0, 20, 2.0)
    old = np.array([4.0, 100.0])
    out = lanczos_interp(np.array([[1.0], [5.0]]), old, new)
    assert out[2, 0] == pytest.approx(1.0)
    assert out[0, 0] == pytest.approx(0.0)  # 4 s away = 2 periods * cutoff 0.5 Hz -> x = 2: sin(2pi) = 0
    assert np.all(out[:, 0] < 1.0 + 1e-12)


def test_tr_grid_matches_reference_definition():
    centres = tr_centres(40)
    assert len(centres) == 35
    assert centres[0] == pytest.approx(-9.0)  # 2*0 - 10 + 1
    assert centres[5] == pytest.approx(1.0)
    assert np.allclose(np.diff(centres), 2.0)
    slow = tr_centres(40, TimingSettings(tr_s=2.0045))
    assert slow[5] == pytest.approx(2.0045 * 5 - 10 + 2.0045 / 2)


def test_row_rule_holds_for_all_82_training_stories(ds003020_metadata):
    respdict = json.loads((ds003020_metadata / "respdict_train82.json").read_text())
    assert len(respdict) == 82
    rng = np.random.default_rng(1)
    for story, n_raw in respdict.items():
        n_words = 3 * n_raw
        word_times = np.sort(rng.uniform(0, 2.0 * (n_raw - 20), n_words))
        rows = story_design(word_times, rng.standard_normal((n_words, 3)), n_raw, n_resp_rows=n_raw - 20, story=story)
        assert rows.shape == (n_raw - 20, 12), story
        assert expected_rows(n_raw) == n_raw - 20
    assert respdict["treasureisland"] - 20 == 394


def test_row_mismatch_raises_with_story_name():
    times = np.linspace(0, 600, 900)
    with pytest.raises(RowCountError, match="treasureisland.*414"):
        story_design(times, np.ones((900, 2)), 414, n_resp_rows=395, story="treasureisland")


def test_trim_keeps_reference_rows():
    grid = np.arange(409)[:, None]  # treasureisland: 414 - 5 grid TRs
    kept = trim(grid)
    assert kept.shape[0] == 394 and kept[0, 0] == 10 and kept[-1, 0] == 403


def test_delays_stay_within_story():
    rows = np.arange(1, 7, dtype=float)[:, None]
    delayed = make_delayed(rows, [1, 2, 3, 4])
    assert delayed.shape == (6, 4)
    assert np.array_equal(delayed[:, 0], [0, 1, 2, 3, 4, 5])
    assert np.array_equal(delayed[:, 3], [0, 0, 0, 0, 1, 2])
    # two stories stacked after per-story delays: the first rows of story 2 see no story-1 values
    second = make_delayed(rows * 10, [1, 2, 3, 4])
    stacked = np.vstack([delayed, second])
    assert np.all(stacked[6, :] == 0) and stacked[9, 3] == 0


def test_zscore_constant_column_maps_to_zero():
    rows = np.column_stack([np.arange(5.0), np.full(5, 3.0)])
    z = zscore(rows)
    assert np.allclose(z[:, 0].mean(), 0) and np.isclose(z[:, 0].std(), 1)
    assert np.all(z[:, 1] == 0)


def test_story_design_equals_manual_composition():
    rng = np.random.default_rng(3)
    times = np.sort(rng.uniform(0, 300, 500))
    vecs = rng.standard_normal((500, 4))
    manual = lanczos_interp(vecs, times, tr_centres(180))[10:-5]
    manual = (manual - manual.mean(0)) / manual.std(0)
    manual = make_delayed(manual, [1, 2, 3, 4])
    assert np.allclose(story_design(times, vecs, 180), manual, atol=1e-12)
