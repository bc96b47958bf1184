"""neurofin.infer stage."""
