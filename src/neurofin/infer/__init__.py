"""Predicted brain-region activity for any text, per subject and as an ensemble.

    predictor = Predictor.from_packages(package_dirs("models"), data_root="data")   # or Predictor.from_models([...])
    frame     = predictor.predict_rois(["$GME to the moon", "I sold everything"])  # a DataFrame, one row per (id, subject)
    infer_file(predictor, read_texts("comments.jsonl"), "rois.parquet")            # batched, resumable
"""

from neurofin.infer.inputs import read_texts
from neurofin.infer.predictor import Predictor
from neurofin.infer.run import infer_file

__all__ = ["Predictor", "infer_file", "read_texts"]
