"""Predicted brain-region activity for any text, per subject and as an ensemble.

    predictor = Predictor.from_packages(package_dirs("models"), data_root="data")   # or Predictor.from_models([...])
    frame     = predictor.predict_rois(["$GME to the moon", "I sold everything"])  # a DataFrame, one row per (id, subject)
    infer_file(predictor, read_texts("comments.jsonl"), "rois.parquet")            # batched, resumable
"""

import lazy_loader

# names load on first use (the .pyi lists them), so `neurofin --help` and other light imports stay fast
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
