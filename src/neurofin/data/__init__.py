"""The ds003020 data layer: layout, transcripts, checks, download and a synthetic twin."""
