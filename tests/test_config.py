"""Settings: production defaults, TOML loading, CLI-style overrides, clear errors."""

import pytest

from neurofin.config import Settings, parse_index_list
from neurofin.errors import ConfigError


def test_defaults_are_the_production_configuration():
    s = Settings()
    assert s.features.model == "meta-llama/Llama-3.1-8B"
    assert s.features.blocks == list(range(24, 32))
    assert s.features.context_tokens == 512
    assert s.timing.delays == [1, 2, 3, 4]
    assert s.timing.tr_s == 2.0
    assert s.data.test_stories == ["wheretheressmoke"]


def test_toml_then_overrides(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('[features]\nmodel = "/models/smol"\nblocks = "0-2"\n[timing]\ntr_s = 2.0045\n')
    s = Settings.load(toml, {"features.blocks": "5,7", "timing.delays": None})
    assert s.features.model == "/models/smol"
    assert s.features.blocks == [5, 7]  # the override wins over the file
    assert s.timing.tr_s == 2.0045
    assert s.timing.delays == [1, 2, 3, 4]  # None means "not given on the command line"
    assert Settings.load(None).to_record()["features"]["context_tokens"] == 512


@pytest.mark.parametrize(
    "content,match",
    [("[features\nmodel=1", "not valid TOML"), ("[features]\nnot_a_key = 1\n", "features.not_a_key"),
     ("[features]\ncontext_tokens = 'many'\n", "features.context_tokens")],
)
def test_bad_config_files_say_what_is_wrong(tmp_path, content, match):
    toml = tmp_path / "bad.toml"
    toml.write_text(content)
    with pytest.raises(ConfigError, match=match):
        Settings.load(toml)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        Settings.load(tmp_path / "nope.toml")


@pytest.mark.parametrize("spec,expected", [("24-31", list(range(24, 32))), ("0,2,5-7", [0, 2, 5, 6, 7]), ([3, 1, 3], [1, 3])])
def test_parse_index_list(spec, expected):
    assert parse_index_list(spec) == expected


@pytest.mark.parametrize("spec", ["a-b", "7-3", ""])
def test_parse_index_list_rejects_garbage(spec):
    with pytest.raises(ConfigError):
        parse_index_list(spec)


BAD_SETTINGS = [
    (["train"], "[encoding]\ncv_folds = 0\n", "encoding.cv_folds"),
    (["train"], "[encoding]\nalphas = []\n", "encoding.alphas"),
    (["train"], "[encoding]\nalphas = [-1, 0]\n", "encoding.alphas"),
    (["train"], "[encoding]\npca_components = 0\n", "encoding.pca_components"),
    (["features", "extract", "--context-tokens", "-5"], "", "features.context_tokens"),
    (["features", "extract", "--batch-size", "0"], "", "features.batch_size"),
    (["infer", "--packages", "p", "--input", "c.jsonl", "--out", "o.parquet", "--batch-size", "0"], "", "infer.batch_size"),
]


@pytest.mark.parametrize(("command", "toml", "key"), BAD_SETTINGS, ids=[k + ":" + t.strip() for _, t, k in BAD_SETTINGS])
def test_out_of_range_settings_are_one_line_errors_before_any_work(tmp_path, command, toml, key):
    """Issue 16.8: each bad value is refused as one line, exit 2, before any data, model or package is touched."""
    import subprocess
    import sys

    config = tmp_path / "run.toml"
    config.write_text(toml)
    args = [*command, "--config", str(config)]
    if command[0] in ("train", "features"):
        args += ["--data-root", str(tmp_path / "no-data")]  # a dataset error here would mean settings came second
    if command[0] == "train":
        args += ["--out", str(tmp_path / "models")]
    proc = subprocess.run([sys.executable, "-m", "neurofin.cli", *args], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: invalid settings") and key in proc.stderr
    assert not (tmp_path / "models").exists()
