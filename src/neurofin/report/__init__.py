"""neurofin.report stage."""
