"""The reference per-story design (Lanczos -> trims -> per-story z-score -> FIR delays) that tests plant responses with."""

from __future__ import annotations

import numpy as np

from neurofin.config import TimingSettings
from neurofin.errors import RowCountError
from neurofin.timing import downsample_story, make_delayed, zscore


def story_design(
    word_times: np.ndarray,
    word_vectors: np.ndarray,
    n_raw_trs: int,
    timing: TimingSettings | None = None,
    *,
    n_resp_rows: int | None = None,
    story: str = "story",
) -> np.ndarray:
    """A story's delayed design rows: Lanczos -> trims -> per-story z-score -> FIR delays.

    `word_vectors` is (n_words, n_features); the result is (n_raw - 20, n_features * n_delays).
    If `n_resp_rows` (the hf5 row count) is given, a mismatch raises RowCountError.
    """
    t = timing or TimingSettings()
    rows = downsample_story(word_times, word_vectors.reshape(len(word_times), -1), n_raw_trs, t)
    if n_resp_rows is not None and rows.shape[0] != n_resp_rows:
        raise RowCountError(
            f"{story}: features give {rows.shape[0]} TRs (respdict {n_raw_trs} - 20) but the response file has "
            f"{n_resp_rows} rows; the respdict.json or the hf5 file belongs to a different version of the story"
        )
    return make_delayed(zscore(rows), t.delays)
