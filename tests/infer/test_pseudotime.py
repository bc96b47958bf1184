"""Pseudo-time: word times at the speech rate; word weights are the Lanczos column sums on the training grid."""

import numpy as np
import pytest

from neurofin.config import TimingSettings
from neurofin.infer.pseudotime import pseudo_word_times
from neurofin.infer.readout import word_weights
from neurofin.timing import lanczos_matrix, median_speech_rate, tr_centres


def test_word_times():
    assert np.allclose(pseudo_word_times(10, 2.0), np.arange(10) / 2.0 + 0.25)


@pytest.mark.parametrize("n_words", [1, 9, 200])
@pytest.mark.parametrize("rate", [1.7, 2.4, 3.3])
def test_word_weights_are_column_sums_on_a_long_training_grid(n_words, rate):
    """The text's words laid on a training story's TR grid (same phase), far from its ends."""
    timing = TimingSettings()
    times = pseudo_word_times(n_words, rate)
    centres = tr_centres(int(times[-1] / 2) + 40, timing)  # -9 s .. well past the last word
    expected = lanczos_matrix(times, centres).sum(axis=0)
    np.testing.assert_allclose(word_weights(n_words, rate, timing), expected, rtol=1e-12)
    assert np.all((expected > 0.99) & (expected < 1.01))


def test_median_speech_rate():
    stories = [np.arange(0, 100, 0.5), np.arange(0, 10, 0.25), np.arange(0, 50, 1 / 3)]
    assert median_speech_rate(stories) == pytest.approx(3.0, rel=1e-6)
    with pytest.raises(ValueError):
        median_speech_rate([np.array([1.0])])
