"""neurofin.atlas stage."""
