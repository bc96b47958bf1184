"""Voxelwise encoding models: design, per-voxel ridge (himalaya), evaluation and the portable package.

    model   = fit_subject(dataset, "UTS01", settings, cached_feature_source(dataset, settings))  # in memory
    metrics, scores = score_model(model, dataset, features)     # validation/test r, noise ceiling
    model.save("models/UTS01"); model = EncodingModel.load("models/UTS01")   # checksummed, no pickle
"""

import lazy_loader

# names load on first use (the .pyi lists them), so `neurofin --help` and other light imports stay fast
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
