"""Scale-out: the same stages as Ray tasks or local processes (Ray is optional, imported only with a Ray address;
`pip install 'neurofin[scale]'`; docs/scale.md).

    ingest_parallel(dumps, "comments.parquet", workers=4)                 # processes, or ray_address="auto"
    extract_features(dataset, stories, settings.features, "auto")         # stories as tasks, shared cache
    train_subjects(dataset, ["UTS01", "UTS02"], settings, "models", "auto")
    infer_ray(spec, "comments/", "rois/", "auto")                          # Ray Data actor pool, Parquet shards
    reproduce(["UTS01", "UTS02", "UTS03"], "data", "reproduce_out", Settings())  # the published protocol
"""

from neurofin.scale.infer import infer_ray
from neurofin.scale.ingest import ingest_parallel
from neurofin.scale.reproduce import reproduce
from neurofin.scale.tasks import extract_features, train_subjects

__all__ = ["extract_features", "infer_ray", "ingest_parallel", "reproduce", "train_subjects"]
