"""Scale-out: the same stages as Ray tasks or local processes (Ray is optional, imported only with a Ray address;
`pip install 'neurofin[scale]'`; docs/scale.md).

    ingest_parallel(dumps, "comments.parquet", workers=4)                 # processes, or ray_address="auto"
    extract_features(dataset, stories, settings.features, "auto")         # stories as tasks, shared cache
    train_subjects(dataset, ["UTS01", "UTS02"], settings, "models", "auto")
    infer_ray(spec, "comments/", "rois/", "auto")                          # Ray Data actor pool, Parquet shards
    reproduce(["UTS01", "UTS02", "UTS03"], "data", "reproduce_out", Settings())  # the published protocol
"""

import lazy_loader

# names load on first use (the .pyi lists them), so `neurofin --help` and other light imports stay fast
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
