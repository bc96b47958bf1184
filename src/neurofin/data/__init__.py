"""The ds003020 data layer: layout, transcripts, checks, download and a synthetic twin.

    dataset = find_dataset("data")                      # the ds003020 folder, its parent or derivative/
    report  = check_dataset("data", ["UTS01"])          # one Problem per fault, each with its fix
    download_dataset(["UTS01"], "data")                 # anonymous S3, resumable
    make_synthetic_dataset("synth", n_subjects=2, n_stories=6, n_voxels=500)   # a twin with planted truth
    transcript = read_textgrid(dataset.textgrid_path("alternateithicatom"))
"""

import lazy_loader

# names load on first use (the .pyi lists them), so `neurofin --help` and other light imports stay fast
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
