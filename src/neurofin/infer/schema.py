"""Column layout of ROI-feature tables written by `neurofin infer` and read by `neurofin market panel`.

One row per (comment id, subject); subject is a subject id or ENSEMBLE (the mean over subjects). Besides
the ROI columns (floats, one per ROI) each row carries META_COLUMNS: the number of words used, whether the
text was truncated, and an error string (None when the row is valid; ROI values are NaN when it is not).
"""

KEY_COLUMNS = ("id", "subject")
META_COLUMNS = ("n_words", "truncated", "error")
ENSEMBLE = "ensemble"
