"""Pseudo-time: text features follow the training path at synthetic timings; the response window is right."""

import numpy as np
import pytest

from neurofin.config import TimingSettings
from neurofin.infer.pseudotime import (
    pseudo_tr_centres,
    pseudo_word_times,
    response_window,
    text_rows,
    window_mean_delayed,
)
from neurofin.timing import downsample_story, make_delayed, median_speech_rate, tr_centres, trim, zscore


def test_text_rows_equal_training_path_on_the_same_grid():
    """Treat the text as a story spoken from sound onset: its TR rows equal the training path's rows."""
    timing = TimingSettings()
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((30, 2, 5))  # (n_words, n_blocks, dim)
    rate = 2.5
    mean, std = rng.standard_normal(10), rng.uniform(0.5, 2, 10)
    rows, _ = text_rows(feats, rate, timing, mean, std)
    n_raw = 60
    train = zscore(downsample_story(pseudo_word_times(30, rate), feats.reshape(30, -1), n_raw, timing), mean, std)
    train_centres = trim(tr_centres(n_raw, timing), timing)
    text_centres = pseudo_tr_centres(30, rate, timing)
    shared = np.intersect1d(np.round(train_centres, 9), np.round(text_centres, 9))
    assert len(shared) >= 5  # the grids have the same phase, so their centres coincide
    i_text = np.searchsorted(text_centres, shared - 1e-9)
    i_train = np.searchsorted(train_centres, shared - 1e-9)
    assert np.allclose(rows[i_text], train[i_train], atol=1e-5)


def test_word_times_and_grid_cover_the_delays():
    timing = TimingSettings()
    times = pseudo_word_times(10, 2.0)
    assert np.allclose(times, np.arange(10) / 2.0 + 0.25)
    centres = pseudo_tr_centres(10, 2.0, timing)
    assert centres[0] == pytest.approx(1.0) and np.allclose(np.diff(centres), 2.0)
    assert centres[-1] >= times[-1] + 8.0  # last word + 4 TRs of delay
    window = response_window(centres, times, timing)
    assert window[0] and window[np.searchsorted(centres, times[-1] + 8.0)]
    assert not window[-1] or centres[-1] <= times[-1] + 9.0


def test_window_mean_of_delayed_rows_is_linear_in_the_rows():
    rng = np.random.default_rng(1)
    rows = rng.standard_normal((12, 3))
    window = np.zeros(12, bool)
    window[2:9] = True
    expected = make_delayed(rows, [1, 2, 3, 4])[2:9].mean(0)
    assert np.allclose(window_mean_delayed(rows, window, [1, 2, 3, 4]), expected)
    assert np.allclose(window_mean_delayed(2 * rows, window, [1, 2, 3, 4]), 2 * expected)


def test_median_speech_rate():
    stories = [np.arange(0, 100, 0.5), np.arange(0, 10, 0.25), np.arange(0, 50, 1 / 3)]
    assert median_speech_rate(stories) == pytest.approx(3.0, rel=1e-6)
    with pytest.raises(ValueError):
        median_speech_rate([np.array([1.0])])
