"""neurofin.scale stage."""
