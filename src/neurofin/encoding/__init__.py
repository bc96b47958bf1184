"""neurofin.encoding stage."""
