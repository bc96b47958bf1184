"""The optional dependencies (pyproject extras): a missing one gives a MissingExtraError naming the extra to install."""

import subprocess
import sys

import pytest

from neurofin.errors import NeurofinError
from neurofin.extras import MissingExtraError


def test_registration_without_ants_names_the_atlas_extra(monkeypatch, tmp_path):
    from neurofin.atlas.register import register_to_mni

    monkeypatch.setitem(sys.modules, "ants", None)  # as if antspyx were not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'neurofin\[atlas\]'"), register_to_mni(tmp_path / "anat.nii.gz"):
        pass


def test_download_without_boto3_names_the_download_extra(monkeypatch):
    from neurofin.data.download import make_s3_client

    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'neurofin\[download\]'"):
        make_s3_client()


def test_demo_prices_without_skfolio_name_the_demo_extra(monkeypatch):
    from neurofin.market.panel.prices import demo_prices

    monkeypatch.setitem(sys.modules, "skfolio.datasets", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'neurofin\[demo\]'"):
        demo_prices(["AAPL"])


def test_serve_without_uvicorn_names_the_serve_extra(monkeypatch):
    from neurofin.serve.command import run_service
    from neurofin.serve.options import ServeOptions

    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'neurofin\[serve\]'"):
        run_service(ServeOptions(), load=lambda: pytest.fail("loaded the model before checking the extra"))


def test_the_extras_are_installed_here_and_the_error_is_a_user_error():
    """`make install` installs every extra the demo and the tests need (else the tests above prove nothing)."""
    import ants  # noqa: F401
    import boto3  # noqa: F401
    import skfolio.datasets  # noqa: F401
    import uvicorn  # noqa: F401

    assert issubclass(MissingExtraError, NeurofinError)


def test_the_cli_prints_one_line_naming_the_extra(tmp_path):
    code = ("import sys; sys.modules['boto3'] = None; from neurofin.cli import main; "
            f"sys.argv = ['neurofin', 'data', 'download', '--subjects', 'UTS01', '--dest', {str(tmp_path)!r}]; main()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: downloading ds003020 from S3 needs boto3, which is not installed: "
                           "pip install 'neurofin[download]'")
