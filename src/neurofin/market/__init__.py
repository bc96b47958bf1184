"""neurofin.market stage."""
