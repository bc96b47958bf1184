"""`neurofin calibrate`'s work: score the reference corpus through the packages' own inference path and store each
package's calibration (the calibration itself: neurofin.infer.calibration)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neurofin.errors import InputError
from neurofin.infer.calibration import DEFAULT_TEXTS, Calibration, reference_texts, write_calibration


def calibrate_packages(packages: Sequence[Path], settings: Any, n_texts: int = DEFAULT_TEXTS,
                       extra: Sequence[str] = ()) -> dict[str, Calibration]:
    """Score the reference corpus through the packages' inference path under `settings` and store each calibration.

    The held-out stories are read from `settings.data.data_root`; `extra` texts (a user corpus) are added."""
    from neurofin.data.layout import find_dataset
    from neurofin.infer.predictor import Predictor, predictor_options

    predictor = Predictor.from_packages(packages, **predictor_options(settings))
    if settings.data.data_root is None and n_texts:
        raise InputError("calibration reads held-out story text: give --data-root (the ds003020 folder the packages were trained on)")
    dataset = find_dataset(settings.data.data_root) if n_texts else None
    from neurofin.encoding.package import EncodingModel

    records = [EncodingModel.load(p).record for p in packages]
    texts, kinds, corpus = reference_texts(dataset, records, n_texts, extra=extra)
    corpus["context_prefix"] = settings.infer.context_prefix
    calibrations = predictor.calibrate(texts, kinds, corpus)
    for package, record in zip(packages, records):
        write_calibration(package, calibrations[record.subject])
    return calibrations
