"""Model package: round trip (same process and a fresh one), exact region collapse, tampering refused."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from records import make_record
from safetensors.numpy import save_file

from neurofin.config import Settings
from neurofin.encoding.package import MANIFEST_FILE, WEIGHTS_FILE, EncodingModel
from neurofin.errors import PackageIntegrityError
from neurofin.io import sha256_file


def _model(seed=0, n_in=12, k=5, n_voxels=9, delays=(1, 2, 3, 4)):
    rng = np.random.default_rng(seed)
    return EncodingModel(
        record=make_record(settings=Settings.model_validate({"timing": {"delays": list(delays)}}), dim=n_in),
        weights=rng.standard_normal((k * len(delays), n_voxels)).astype(np.float32),
        feature_mean=rng.standard_normal(n_in).astype(np.float32),
        feature_std=rng.uniform(0.5, 2, n_in).astype(np.float32),
        basis=rng.standard_normal((n_in, k)).astype(np.float32),
        word_mean=rng.standard_normal(n_in).astype(np.float32),
        arrays={"alphas": rng.uniform(1, 100, n_voxels)},
        scores={"test_r": rng.uniform(-0.1, 0.5, n_voxels)},
        metrics={"test_mean_r": 0.1},
    )


def test_round_trip_gives_identical_predictions(tmp_path):
    model = _model()
    model.save(tmp_path / "pkg")
    loaded = EncodingModel.load(tmp_path / "pkg")
    rows = np.random.default_rng(1).standard_normal((30, 12)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(loaded.delayed_design(rows)), model.predict(model.delayed_design(rows)))
    np.testing.assert_array_equal(loaded.arrays["alphas"], model.arrays["alphas"])
    np.testing.assert_array_equal(loaded.word_mean, model.word_mean)
    np.testing.assert_array_equal(loaded.scores["test_r"], model.scores["test_r"])
    assert loaded.record == model.record and loaded.metrics == model.metrics


def test_fresh_process_loads_with_numpy_and_safetensors_only(tmp_path):
    model = _model()
    model.save(tmp_path / "pkg")
    rows = np.random.default_rng(2).standard_normal((20, 12)).astype(np.float32)
    np.save(tmp_path / "rows.npy", rows)
    code = (
        "import numpy as np, sys; from neurofin.encoding.package import EncodingModel;"
        f"m = EncodingModel.load({str(tmp_path / 'pkg')!r});"
        f"np.save({str(tmp_path / 'pred.npy')!r}, m.predict(m.delayed_design(np.load({str(tmp_path / 'rows.npy')!r}))));"
        "assert 'torch' not in sys.modules and 'himalaya' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    # identical up to float32 rounding: another numpy ships another OpenBLAS, whose kernels (per CPU) sum in another
    # order (7.6e-6 = 1.3 float32 eps of the largest value on a Xeon; bit-equal on an EPYC)
    expected = model.predict(model.delayed_design(rows))
    scale = 8 * np.finfo(np.float32).eps * np.abs(expected).max()
    np.testing.assert_allclose(np.load(tmp_path / "pred.npy"), expected, rtol=0, atol=scale)


OTHER_NUMPY = "1.26.4"  # the last 1.x release; the project itself runs numpy 2


def test_loads_in_a_fresh_environment_with_another_numpy_version(tmp_path):
    """A package written here (numpy 2) loads and predicts the same values (to float32 rounding) under numpy 1.26 with only safetensors and
    pydantic (the record's schema) beside it: no torch, himalaya, scipy, pandas or h5py."""
    import venv

    model = _model()
    model.save(tmp_path / "pkg")
    rows = np.random.default_rng(4).standard_normal((20, 12)).astype(np.float32)
    np.save(tmp_path / "rows.npy", rows)
    env = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    install = subprocess.run([python, "-m", "pip", "install", "-q", f"numpy=={OTHER_NUMPY}", "safetensors", "pydantic", "lazy-loader"],
                             capture_output=True, text=True)
    if install.returncode != 0:
        pytest.skip(f"could not install numpy {OTHER_NUMPY} from the package index: {install.stderr[-300:]}")
    src = str(Path(__file__).resolve().parents[2] / "src")
    code = (
        f"import sys; sys.path.insert(0, {src!r}); import numpy as np;"
        f"assert np.__version__ == {OTHER_NUMPY!r}, np.__version__;"
        "from neurofin.encoding.package import EncodingModel;"
        f"m = EncodingModel.load({str(tmp_path / 'pkg')!r});"
        f"np.save({str(tmp_path / 'pred.npy')!r}, m.predict(m.delayed_design(np.load({str(tmp_path / 'rows.npy')!r}))))"
    )
    subprocess.run([python, "-c", code], check=True)
    # identical up to float32 rounding: another numpy ships another OpenBLAS, whose kernels (per CPU) sum in another
    # order (7.6e-6 = 1.3 float32 eps of the largest value on a Xeon; bit-equal on an EPYC)
    expected = model.predict(model.delayed_design(rows))
    scale = 8 * np.finfo(np.float32).eps * np.abs(expected).max()
    np.testing.assert_allclose(np.load(tmp_path / "pred.npy"), expected, rtol=0, atol=scale)


def test_collapse_is_exact_for_region_averages():
    model = _model(n_voxels=10)
    region_of_voxel = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 2])
    averaging = np.zeros((10, 3), dtype=np.float32)
    averaging[np.arange(10), region_of_voxel] = 1.0
    averaging /= averaging.sum(axis=0)
    design = model.delayed_design(np.random.default_rng(3).standard_normal((25, 12)))
    voxel_pred = model.predict(design)
    expected = np.stack([voxel_pred[:, region_of_voxel == r].mean(axis=1) for r in range(3)], axis=1)
    np.testing.assert_allclose(design @ model.collapse(averaging), expected, rtol=1e-4, atol=1e-5)


def test_edited_bytes_are_refused(tmp_path):
    _model().save(tmp_path / "pkg")
    path = tmp_path / "pkg" / WEIGHTS_FILE
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(PackageIntegrityError, match="SHA-256"):
        EncodingModel.load(tmp_path / "pkg")


def test_wrong_shape_is_refused_even_with_a_matching_checksum(tmp_path):
    model = _model()
    model.save(tmp_path / "pkg")
    tensors = model.weight_tensors()
    tensors["weights"] = tensors["weights"][:, :-1]  # one voxel fewer
    path = tmp_path / "pkg" / WEIGHTS_FILE
    save_file(tensors, str(path))
    manifest_path = tmp_path / "pkg" / MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text())
    manifest["files"][WEIGHTS_FILE] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(PackageIntegrityError, match="shapes"):
        EncodingModel.load(tmp_path / "pkg")


def test_inconsistent_shapes_are_refused_on_save(tmp_path):
    model = _model()
    model.weights = model.weights[:-1]
    with pytest.raises(PackageIntegrityError, match="weights"):
        model.save(tmp_path / "pkg")


@pytest.mark.parametrize("edit", ["config", "arrays", "metrics", "delete_arrays"])
def test_any_edited_or_missing_file_is_refused(tmp_path, edit):
    from neurofin.encoding.package import ARRAYS_FILE, CONFIG_FILE, METRICS_FILE

    _model().save(tmp_path / "pkg")
    pkg = tmp_path / "pkg"
    if edit == "config":  # a different subject, still valid JSON
        config = json.loads((pkg / CONFIG_FILE).read_text())
        (pkg / CONFIG_FILE).write_text(json.dumps(config | {"subject": "UTS02"}))
    elif edit == "metrics":
        (pkg / METRICS_FILE).write_text(json.dumps({"test_mean_r": 0.9}))
    elif edit == "arrays":
        tensors = EncodingModel.load(pkg).arrays
        tensors["alphas"] = tensors["alphas"] * 10
        save_file(tensors, str(pkg / ARRAYS_FILE))
    else:
        (pkg / ARRAYS_FILE).unlink()
    with pytest.raises(PackageIntegrityError, match="SHA-256|missing"):
        EncodingModel.load(pkg)


@pytest.mark.parametrize("damage", ["manifest deleted", "train stopped before the manifest", "empty folder"])
def test_folder_without_manifest_is_an_error_naming_it(tmp_path, damage, tiny):
    """Issue 16.4: a sub-folder that is not a complete package was skipped silently by evaluate and infer."""
    from typer.testing import CliRunner

    from neurofin import cli
    from neurofin.encoding.package import CONFIG_FILE, package_dirs

    models = tmp_path / "models"
    _model(1).save(models / "UTS01")
    broken = models / "UTS02"
    if damage == "manifest deleted":
        _model(2).save(broken)
        (broken / MANIFEST_FILE).unlink()
    elif damage == "train stopped before the manifest":
        broken.mkdir()
        (broken / CONFIG_FILE).write_text("{}")
    else:
        broken.mkdir()
    with pytest.raises(PackageIntegrityError, match="UTS02") as info:
        package_dirs(models)
    assert MANIFEST_FILE in str(info.value) and "neurofin train" in str(info.value)
    (tmp_path / "c.jsonl").write_text('{"id": "a", "body": "some text"}\n')
    cli._register()
    for args in (["evaluate", str(models), "--data-root", str(tiny.dataset.root)],
                 ["infer", "--packages", str(models), "--input", str(tmp_path / "c.jsonl"), "--out", str(tmp_path / "o.parquet")]):
        result = CliRunner().invoke(cli.app, args)
        assert result.exit_code != 0 and isinstance(result.exception, PackageIntegrityError), result.output
        assert str(broken) in str(result.exception)


def test_hidden_folders_beside_packages_are_ignored(tmp_path):
    from neurofin.encoding.package import package_dirs

    _model(1).save(tmp_path / "UTS01")
    (tmp_path / ".cache").mkdir()
    assert package_dirs(tmp_path) == [tmp_path / "UTS01"]
