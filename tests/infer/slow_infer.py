"""Run `infer_file` in its own process with a slow stand-in predictor (for the two-process tests).

usage: python slow_infer.py TEXTS.json OUT.parquet RESULT.parquet DELAY_S
"""

import sys
import time

import pandas as pd

from neurofin.infer.run import infer_file


class SlowPredictor:
    """Region 'x' = text length; each batch takes DELAY_S seconds."""

    subjects = ["S1"]
    embedding_dims = 0

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def predict_rois(self, texts, ids):
        time.sleep(self.delay)
        return pd.DataFrame({"id": list(ids), "subject": "S1", "x": [float(len(t)) for t in texts]})


if __name__ == "__main__":
    texts_path, out, result_path, delay = sys.argv[1:5]
    texts = pd.read_json(texts_path, dtype=False)
    result = infer_file(SlowPredictor(float(delay)), texts, out, batch_size=2)
    result.to_parquet(result_path)
