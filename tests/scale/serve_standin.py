"""A `neurofin serve` process whose predictor is a stand-in with a planted cost and planted values.

Run as `python serve_standin.py '{"port": 8123, ...}'` (ServeOptions fields as JSON): it goes through the same
option checks, socket binding, warnings and uvicorn run as `neurofin serve`; only the package loading differs.
The stand-in charges `COST_S_PER_CHAR` seconds per character of each forward pass (a language model's cost grows
with the text) and returns, per (text, subject), `chars` = len(text) and `words` = number of words, so a client
can check it got its own rows. A text "sleep:S" holds the worker S seconds (a pass that runs long); a text
"raise:MESSAGE" makes the pass raise RuntimeError(MESSAGE) (a model failing mid-request).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pandas as pd

COST_S_PER_CHAR = 1e-4
SUBJECTS = ["S1", "S2"]
REGIONS = ["chars", "words"]


class StandInPredictor:
    """The part of neurofin.infer.predictor.Predictor that serve uses: subjects, region_names, predict_rois."""

    subjects = SUBJECTS
    region_names = REGIONS

    def predict_rois(self, texts: list[str], ids: list[str] | None = None) -> pd.DataFrame:
        ids = ids if ids is not None else [str(i) for i in range(len(texts))]
        time.sleep(COST_S_PER_CHAR * sum(len(t) for t in texts))
        for text in texts:
            if text.startswith("sleep:"):
                time.sleep(float(text.removeprefix("sleep:")))
            if text.startswith("raise:"):
                raise RuntimeError(text.removeprefix("raise:"))
        rows = []
        for subject in [*SUBJECTS, "ensemble"]:
            for key, text in zip(ids, texts):
                n_words = len(text.split())
                rows.append({"id": key, "subject": subject, "n_words": n_words, "truncated": False,
                             "error": None if n_words else "no words",
                             "chars": float(len(text)) if n_words else np.nan, "words": float(n_words) if n_words else np.nan})
        return pd.DataFrame(rows)


def main() -> None:
    from neurofin.serve import ServeOptions, run_service

    options = ServeOptions(**json.loads(sys.argv[1]))
    run_service(options, lambda: (StandInPredictor(), [{"subject": s, "manifest_sha256": "0" * 64} for s in SUBJECTS]))


if __name__ == "__main__":
    main()
