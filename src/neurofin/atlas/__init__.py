"""neurofin.atlas: Schaefer parcels and editable ROIs, registered into each subject's functional space.

Public API (stable; infer/ builds on it):

    atlas   = load_atlas()                                  # Schaefer 1000 parcels, 7 networks (packaged, offline)
    rois    = load_rois(path=None, atlas=atlas)             # resources/rois.toml or a user file (validated)
    maps    = subject_atlas(dataset, "UTS01", cache_dir)    # ANTs affine + SyN to MNI, composed with pycortex "coord"
    parcels = maps.parcels(atlas)                           # (n_voxels,) parcel id per response column, 0 = none
    keep    = neurofin.encoding.select_voxels(validation_r, 0.05)   # the voxels a region averages (validation r)
    M       = roi_matrix(parcels, rois, keep, maps.voxel_mni).matrix   # sparse (n_voxels, n_rois) averaging matrix
    P       = parcel_matrix(parcels, atlas.n_parcels, keep).matrix     # sparse (n_voxels, n_parcels)
    report  = roi_coverage(maps, rois, atlas)               # per ROI: voxels, MNI coverage, "~empty"/subcortical note

Region activity = voxel activity @ M (column r averages the kept voxels of region r; all-zero if none).
"""

import lazy_loader

# names load on first use (the .pyi lists them), so `neurofin --help` and other light imports stay fast
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
