"""`neurofin atlas rois|register`: listings and the per-ROI coverage table, with the NAcc flagged."""

from __future__ import annotations

import contextlib
import subprocess
import sys

from typer.testing import CliRunner

from neurofin.atlas import cli as atlas_cli
from neurofin.atlas import load_atlas, load_rois, roi_coverage, subject_atlas
from neurofin.atlas import subject as subject_module
from neurofin.atlas.rois import default_roi_file


def test_rois_lists_every_roi_with_its_parcel_count(tmp_path):
    result = CliRunner().invoke(atlas_cli.app, ["rois"])
    assert result.exit_code == 0, result.output
    rois = load_rois()
    for roi in rois.rois:
        line = next(line for line in result.output.splitlines() if line.startswith(roi.name + " "))
        assert line.split()[1] == ("sphere" if roi.is_sphere else str(len(roi.parcel_ids)))
    edited = tmp_path / "mine.toml"
    edited.write_text('[[roi]]\nname = "only_vis"\ndescription = "visual"\nmatch = [{ network = "Vis" }]\n')
    result = CliRunner().invoke(atlas_cli.app, ["rois", "--roi-file", str(edited)])
    assert result.exit_code == 0 and "1 ROIs" in result.output and "only_vis" in result.output
    shown = CliRunner().invoke(atlas_cli.app, ["rois", "--show-file"])
    assert shown.output == default_roi_file().read_text()


def test_bad_roi_file_is_one_clear_error_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[roi]]\nname = "x"\ndescription = "d"\nmatch = [{ network = "Visual" }]\n')
    proc = subprocess.run(
        [sys.executable, "-m", "neurofin.cli", "atlas", "rois", "--roi-file", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "unknown network 'Visual'" in proc.stderr and "Traceback" not in proc.stderr


def test_register_prints_counts_coverage_and_flags_nacc(planted_synth, known_map, tmp_path, monkeypatch):
    dataset, _ = planted_synth

    @contextlib.contextmanager
    def planted_registration(anat_path, mode):
        yield known_map.planted()

    monkeypatch.setattr(subject_module, "register_to_mni", planted_registration)
    cache = tmp_path / "cache"
    result = CliRunner().invoke(
        atlas_cli.app, ["register", "--data-root", str(dataset.root), "--subjects", "UTS01", "--cache", str(cache)]
    )
    assert result.exit_code == 0, result.output
    atlas = load_atlas()
    rows = roi_coverage(subject_atlas(dataset, "UTS01", cache, atlas=atlas), load_rois(atlas=atlas), atlas)
    lines = result.output.splitlines()
    assert any(line.startswith("UTS01: 200 mask voxels") and "100.0% with a parcel" in line for line in lines)
    for row in rows:
        line = next(line for line in lines if line.startswith(row.name + " "))
        assert line.split()[1:4] == [str(row.n_parcels), str(row.n_voxels), f"{row.coverage:.2f}"]
    nacc = next(line for line in lines if line.startswith("nacc "))
    assert "~empty" in nacc and "cortical only" in nacc
