"""Settings: production defaults, TOML loading, CLI-style overrides, clear errors, a range on every number."""

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    # issue 24.4: market settings crashed 6-36 s into a backtest, or ran silently (horizons=[0], fdr_alpha=5)
    (["market", "backtest"], "[market]\nhorizons = [-1]\n", "market.horizons"),
    (["market", "backtest"], "[market]\nhorizons = [0]\n", "market.horizons"),
    (["market", "backtest"], "[market]\nfdr_alpha = 5\n", "market.fdr_alpha"),
    (["market", "backtest"], "[market]\nquantile_levels = [0.1, 1.5]\n", "market.quantile_levels"),
    (["market", "backtest"], "[market]\nisc_null_quantile = 2\n", "market.isc_null_quantile"),
    (["market", "backtest"], "[market]\ngranger_max_lag = 0\n", "market.granger_max_lag"),
    (["market", "backtest"], "[market]\nseed = -1\n", "market.seed"),
    (["market", "backtest"], "[market]\nisc_null_shifts = 0\n", "market.isc_null_shifts"),
    (["market", "backtest"], "[timing]\ntr_s = inf\n", "timing.tr_s"),
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
    if command[0] == "market":  # a missing panel here would mean settings came second
        args += ["--db", str(tmp_path / "no-panel.duckdb"), "--out", str(tmp_path / "models")]
    proc = subprocess.run([sys.executable, "-m", "neurofin.cli", *args], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: invalid settings") and key in proc.stderr
    assert not (tmp_path / "models").exists()


# ---- issue 24.4: every numeric setting has a range, and any value outside it is refused naming its key ----------

def numeric_settings() -> list[tuple[str, dict, bool]]:
    """(dotted key, JSON schema of its number, whether the key holds a list) for every int/float field of the
    settings, read from the pydantic schema: a field added later is covered without editing this test."""
    schema = Settings.model_json_schema()
    found = []
    for section, ref in schema["properties"].items():
        for key, field in schema["$defs"][ref["$ref"].rsplit("/", 1)[-1]]["properties"].items():
            for option in field.get("anyOf", [field]):
                number = option.get("items", {}) if option.get("type") == "array" else option
                if number.get("type") in ("integer", "number"):
                    found.append((f"{section}.{key}", number, option.get("type") == "array"))
    return found


NUMERIC = numeric_settings()
FLOAT_BOUNDS = {"allow_nan": False, "allow_infinity": False}


def lower(number: dict) -> tuple[float, bool] | None:
    """(lower bound, exclusive) of a number's schema, or None."""
    if "exclusiveMinimum" in number:
        return number["exclusiveMinimum"], True
    return (number["minimum"], False) if "minimum" in number else None


def upper(number: dict) -> tuple[float, bool] | None:
    """(upper bound, exclusive) of a number's schema, or None."""
    if "exclusiveMaximum" in number:
        return number["exclusiveMaximum"], True
    return (number["maximum"], False) if "maximum" in number else None


def outside(number: dict) -> st.SearchStrategy:
    """Values outside the declared range: below the lower bound, above the upper one, and NaN/inf for floats."""
    integer = number["type"] == "integer"
    options = [st.sampled_from([math.nan, math.inf, -math.inf])] if not integer else []
    if (low := lower(number)) is not None:
        bound, exclusive = low
        options.append(st.integers(max_value=int(bound) - (not exclusive)) if integer
                       else st.floats(max_value=bound, exclude_max=not exclusive, allow_nan=False))
    if (high := upper(number)) is not None:
        bound, exclusive = high
        options.append(st.integers(min_value=int(bound) + (not exclusive)) if integer
                       else st.floats(min_value=bound, exclude_min=not exclusive, allow_nan=False))
    return st.one_of(options)


def inside(number: dict) -> st.SearchStrategy:
    """Values inside the declared range (finite)."""
    (low, low_open), high = lower(number), upper(number)
    high_value, high_open = high if high is not None else (low + 10**9, False)
    if number["type"] == "integer":
        return st.integers(int(low) + low_open, int(high_value) - high_open)
    return st.floats(low, high_value, exclude_min=low_open, exclude_max=high_open, **FLOAT_BOUNDS)


def test_every_numeric_setting_declares_a_lower_bound():
    """A new int/float setting without a range fails here (the property tests below then cover it)."""
    assert len(NUMERIC) >= 40, [k for k, _, _ in NUMERIC]  # the introspection finds the schema's numbers
    unbounded = [key for key, number, _ in NUMERIC if lower(number) is None]
    assert not unbounded, f"give these settings a range (pydantic Field(ge=/gt=)): {unbounded}"


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.data())
def test_out_of_range_settings_are_refused_naming_the_key(data):
    key, number, is_list = data.draw(st.sampled_from(NUMERIC), label="setting")
    bad = data.draw(outside(number), label="value")
    with pytest.raises(ConfigError, match=re.escape(key)):
        Settings.load(None, {key: [bad] if is_list else bad})


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(st.data())
def test_in_range_settings_are_accepted(data):
    """The ranges are not stricter than declared: any value inside one loads unchanged."""
    key, number, is_list = data.draw(st.sampled_from(NUMERIC), label="setting")
    good = data.draw(inside(number), label="value")
    value = [good] if is_list else good
    section, name = key.split(".")
    assert getattr(getattr(Settings.load(None, {key: value}), section), name) == value
