"""neurofin.features stage."""
