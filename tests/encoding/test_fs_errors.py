"""Issue 16.6 for `train`: an unwritable --out is refused before the fit; a pointer or cut-off hf5 is a DataError."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from neurofin import cli
from neurofin.encoding import train as train_module
from neurofin.errors import AnnexPointerError, NeurofinError, TruncatedFileError

CONFIG = '[encoding]\nbackend = "numpy"\nvalidation_stories = 2\ncv_folds = 3\npca_components = 8\n'


def _train(tiny, tmp_path, monkeypatch, out):
    monkeypatch.setattr(train_module, "cached_feature_source", lambda dataset, settings: tiny.source)
    config = tmp_path / "enc.toml"
    config.write_text(CONFIG)
    cli._register()
    return CliRunner().invoke(cli.app, ["train", "--data-root", str(tiny.dataset.root), "--subjects", "UTS01",
                                        "--config", str(config), "--out", str(out)])


def test_unwritable_out_is_refused_before_the_fit(tiny, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    fits = []
    monkeypatch.setattr(train_module, "fit_subject", lambda *a, **k: fits.append(a))
    result = _train(tiny, tmp_path, monkeypatch, blocker / "models")
    assert isinstance(result.exception, NeurofinError) and str(blocker / "models") in str(result.exception)
    assert fits == []


@pytest.mark.parametrize("damage", ["annex pointer", "truncated", "not hdf5"])
def test_damaged_response_file_during_train(tiny, tmp_path, monkeypatch, damage):
    path = tiny.dataset.response_path("UTS01", "story03")
    if damage == "annex pointer":
        path.write_text("/annex/objects/SHA256E-s123--abc.hf5\n")
        expected = AnnexPointerError
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        expected = TruncatedFileError
    else:
        path.write_bytes(b"\x00" * 4096)
        expected = TruncatedFileError
    result = _train(tiny, tmp_path, monkeypatch, tmp_path / "models")
    assert isinstance(result.exception, expected), repr(result.exception)
    assert str(path) in str(result.exception) and "download" in str(result.exception)
