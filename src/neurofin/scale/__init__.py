"""neurofin.scale: the pipeline on a Ray cluster or many local processes, and the one-command protocol run.

    cluster.run_tasks(fn, calls, ray_address)     # Ray tasks (num_gpus=1 where GPUs exist) or local processes
    ingest.ingest_parallel(dumps, out, workers)    # monthly dumps at once; same table and counts as sequential
    tasks.extract_features / tasks.train_subjects   # stories / subjects as Ray tasks, shared feature cache
    infer.infer_ray(spec, input, out, address)      # Ray Data actor pool, Parquet shards, resumable per shard
    reproduce.reproduce(subjects, dest, out, ...)   # download -> check -> features -> train -> evaluate -> table

Ray is imported lazily (only with a Ray address); see docs/scale.md.
"""
