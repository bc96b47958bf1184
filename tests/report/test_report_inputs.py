"""Issue 24.5: every report input that is damaged, of another kind or hostile is one NeurofinError naming the file,
never a traceback; names with `$` are drawn literally (not as matplotlib mathtext). A Hypothesis suite feeds each
report input (--rois, --explanations, summary.json and the backtest tables) raw bytes and hostile values."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from json_damage import damaged

from neurofin.errors import NeurofinError
from neurofin.report.build import build_report
from neurofin.report.html import esc

from .conftest import write_backtest, write_explanations_file, write_rois

EXAMPLES = int(os.environ.get("NEUROFIN_HYPOTHESIS_EXAMPLES", "50"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=20), database=None,
                    derandomize="NEUROFIN_HYPOTHESIS_RANDOM" not in os.environ,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
REPORT = settings(PROPERTY, max_examples=max(EXAMPLES // 5, 5))  # a report with figures takes 0.5-4 s
TRIED: dict[str, int] = {}  # report input -> examples run (printed by the count test at the end)
MATHTEXT = "a$\\frac$b"  # not valid mathtext: matplotlib raises ValueError when it parses it


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A small infer output, its explanations file and a backtest folder (each test copies what it damages)."""
    root = tmp_path_factory.mktemp("report-inputs")
    rois = write_rois(root / "rois.parquet", n=40)
    return {"rois": rois, "explanations": write_explanations_file(root / "explanations.parquet", rois),
            "backtest": write_backtest(root / "backtest")}


def refused(call, name: str) -> str:
    """The message of the NeurofinError `call` raises; it names the input `name`."""
    with pytest.raises(NeurofinError) as caught:
        call()
    assert name in str(caught.value), str(caught.value)
    return str(caught.value)


def rois_report(tmp_path: Path, rois: Path, explanations: Path | None = None) -> Path:
    return build_report(tmp_path / "r.html", rois=rois, explanations=explanations)


def backtest_copy(inputs, tmp_path: Path) -> Path:
    return Path(shutil.copytree(inputs["backtest"], tmp_path / "backtest"))


ROIS_DAMAGE = {
    "csv-named-parquet": ("rois.parquet", b"id,subject,n_words\nc1,UTS01,3\n"),
    "binary-named-csv": ("rois.csv", bytes(range(256)) * 4),
    "empty-csv": ("rois.csv", b""),
    "text-n_words": ("rois.csv", b"id,subject,n_words,language\nc1,UTS01,many,0.3\nc2,UTS01,4,0.1\n"),
    "text-region": ("rois.csv", b"id,subject,n_words,language\nc1,UTS01,3,high\nc2,UTS01,4,0.1\n"),
}


@pytest.mark.parametrize("name,data", ROIS_DAMAGE.values(), ids=ROIS_DAMAGE.keys())
def test_damaged_rois_file_is_one_error(tmp_path, name, data):
    (tmp_path / name).write_bytes(data)
    refused(lambda: rois_report(tmp_path, tmp_path / name), name)
    assert not (tmp_path / "r.html").exists()


EXPLANATIONS_DAMAGE = {
    "unterminated-quote": b'id,text,roi,chosen_by,subject,position,word,limbic\nc1,"never closed,limbic,x,UTS01,0,a,0.1\n',
    "binary": bytes(range(256)) * 4,
    "text-contribution": b"id,text,roi,chosen_by,subject,position,word,limbic\nc1,a b,limbic,x,UTS01,0,a,high\n",
    "text-position": b"id,text,roi,chosen_by,subject,position,word,limbic\nc1,a b,limbic,x,UTS01,first,a,0.1\n",
}


@pytest.mark.parametrize("data", EXPLANATIONS_DAMAGE.values(), ids=EXPLANATIONS_DAMAGE.keys())
def test_broken_explanations_csv_is_one_error(inputs, tmp_path, data):
    (tmp_path / "explanations.csv").write_bytes(data)
    refused(lambda: rois_report(tmp_path, inputs["rois"], tmp_path / "explanations.csv"), "explanations.csv")


SUMMARY_DAMAGE = {
    "not-json": lambda s: "{not json",
    "a-list": lambda s: json.dumps([s]),
    "no-verdict": lambda s: json.dumps({k: v for k, v in s.items() if k != "verdict"}),
    "settings-a-string": lambda s: json.dumps({**s, "settings": "expanding"}),
    "quantiles-text": lambda s: json.dumps({**s, "settings": {**s["settings"], "quantile_levels": ["x"]}}),
    "null-values-text": lambda s: json.dumps({**s, "permutation_null": {**s["permutation_null"], "values": "many"}}),
    "targets-a-number": lambda s: json.dumps({**s, "targets": 3}),
}


@pytest.mark.parametrize("damage", SUMMARY_DAMAGE.values(), ids=SUMMARY_DAMAGE.keys())
def test_damaged_summary_json_is_one_error(inputs, tmp_path, damage):
    folder = backtest_copy(inputs, tmp_path)
    summary = folder / "summary.json"
    summary.write_text(damage(json.loads(summary.read_text())))
    refused(lambda: build_report(tmp_path / "r.html", backtest=folder), "summary.json")


def test_damaged_inputs_on_the_command_line_are_one_line_and_exit_2(inputs, tmp_path):
    """The real CLI: a CSV passed as --rois .parquet and a damaged summary.json; one line, exit 2, no report."""
    (tmp_path / "notes.parquet").write_text("id,subject\n")
    folder = backtest_copy(inputs, tmp_path)
    (folder / "summary.json").write_text("{cut")
    for args, name in ((["--rois", str(tmp_path / "notes.parquet")], "notes.parquet"),
                       (["--backtest", str(folder)], "summary.json")):
        proc = subprocess.run([sys.executable, "-m", "neurofin.cli", "report", *args, "--out", str(tmp_path / "r.html")],
                              capture_output=True, text=True)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith("error: ") and name in proc.stderr and "Traceback" not in proc.stderr
        assert not (tmp_path / "r.html").exists()


def test_dollar_names_are_drawn_literally(inputs, tmp_path):
    """A `$` in a subject, region or ticker name is text, not mathtext: the report is written and names them."""
    frame = pd.read_parquet(inputs["rois"]).rename(columns={"limbic": MATHTEXT})
    frame = frame[frame["subject"] != "ensemble"].assign(subject="sub$^$")
    frame.to_parquet(tmp_path / "rois.parquet", index=False)
    folder = backtest_copy(inputs, tmp_path)
    frequencies = pd.read_csv(folder / "selection_frequency.csv", index_col=0)
    frequencies.rename(index={"limbic": MATHTEXT}, columns={"AAA": "$A$^"}).to_csv(folder / "selection_frequency.csv")
    html = build_report(tmp_path / "r.html", rois=tmp_path / "rois.parquet", backtest=folder).read_text(encoding="utf-8")
    assert esc(MATHTEXT) in html and "sub$^$" in html and "$A$^" in html


def test_figures_never_parse_mathtext():
    """Every text of a report figure is drawn with mathtext off, whatever rcParams say."""
    import matplotlib

    from neurofin.report.figures import new_figure, to_png

    figure = new_figure(3, 2, MATHTEXT)
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], label=MATHTEXT)
    axes.set_yticks([0, 1], [MATHTEXT, "$x$"])
    axes.legend()
    with matplotlib.rc_context({"text.parse_math": True}):
        assert to_png(figure).startswith(b"\x89PNG")
    assert not any(t.get_parse_math() for t in figure.findobj(matplotlib.text.Text))


# ---- Hypothesis: each report input, raw bytes and hostile values ------------------------------------------------

def outcome(reader: str, call) -> object:
    """Run a report build: its path, or None when it raised a NeurofinError; any other exception fails the property."""
    TRIED[reader] = TRIED.get(reader, 0) + 1
    try:
        return call()
    except NeurofinError as exc:
        assert str(exc).strip() and "\n" not in str(exc).strip()
        return None


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
CELLS = st.one_of(st.floats(), st.integers(-(10**20), 10**20), st.text(max_size=8), st.none(), st.booleans())
NAMES = st.text(alphabet="ab$\\^_{}<&", min_size=1, max_size=6)


def in_folder(files: dict[str, bytes], run):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name, data in files.items():
            (root / name).write_bytes(data)
        return run(root)


@REPORT
@given(st.sampled_from(["rois.parquet", "rois.csv"]), st.binary(max_size=1500))
def test_rois_raw_bytes(name, data):
    in_folder({name: data}, lambda root: outcome("rois", lambda: rois_report(root, root / name)))


@REPORT
@given(st.lists(st.tuples(NAMES, CELLS, CELLS, CELLS), min_size=1, max_size=8), NAMES, st.booleans())
def test_rois_hostile_values(rows, region, parquet):
    frame = pd.DataFrame([(f"c{k}", subject, n_words, value) for k, (subject, n_words, value, _) in enumerate(rows)],
                         columns=["id", "subject", "n_words", region]).astype({"n_words": object, region: object})
    name = "rois.parquet" if parquet else "rois.csv"

    def run(root):
        try:
            frame.to_parquet(root / name) if parquet else frame.to_csv(root / name, index=False)
        except Exception:  # pyarrow refuses some mixed columns: write them as text, a file a user could have
            frame.astype(str).to_parquet(root / name)
        return outcome("rois", lambda: rois_report(root, root / name))

    in_folder({}, run)


@REPORT
@given(st.binary(max_size=1500), st.sampled_from(["explanations.csv", "explanations.parquet"]))
def test_explanations_raw_bytes(inputs, data, name):
    in_folder({name: data}, lambda root: outcome("explanations", lambda: rois_report(root, inputs["rois"], root / name)))


@REPORT
@given(st.lists(st.tuples(CELLS, CELLS, NAMES | CELLS, CELLS), min_size=1, max_size=6), NAMES)
def test_explanations_hostile_values(inputs, rows, region):
    frame = pd.DataFrame([{"id": "c1", "text": "a b", "roi": roi, "chosen_by": "x", "subject": subject, "position": position,
                           "word": "a", region: value} for position, value, roi, subject in rows])
    data = frame.to_csv(index=False).encode("utf-8", "surrogatepass")
    in_folder({"explanations.csv": data},
              lambda root: outcome("explanations", lambda: rois_report(root, inputs["rois"], root / "explanations.csv")))


def read_backtest(folder: Path) -> None:
    """Every reader of a backtest folder the report runs (its tables, summary.json and provenance lines)."""
    from neurofin.report.market import Backtest
    from neurofin.report.market_outputs import BacktestOutputs
    from neurofin.report.provenance import market_lines

    Backtest.load(folder)
    BacktestOutputs.load(folder)
    market_lines(folder)


def backtest_report(inputs, name: str, data: bytes, build=read_backtest) -> object:
    """`build` (the readers, or a whole report) on the planted backtest folder with the file `name` replaced by `data`."""
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(shutil.copytree(inputs["backtest"], Path(folder) / "backtest"))
        (copy / name).write_bytes(data)
        return outcome(name, lambda: build(copy))


@REPORT
@given(st.integers(0, 10**6), JSON_VALUES)
def test_summary_hostile_structure(inputs, where, value):
    summary = json.loads((inputs["backtest"] / "summary.json").read_text())
    backtest_report(inputs, "summary.json", json.dumps(damaged(summary, where, value)).encode(),
                    lambda folder: build_report(folder.parent / "r.html", backtest=folder))


BACKTEST_FILES = ["summary.json", "metrics.csv", "daily_ic.csv", "selection_frequency.csv", "forecasts.parquet",
                  "results.parquet", "increments.csv", "portfolio_daily.parquet", "cost_sweep.csv"]


@PROPERTY
@given(st.sampled_from(BACKTEST_FILES), st.binary(max_size=1000))
def test_backtest_files_raw_bytes(inputs, name, data):
    backtest_report(inputs, name, data)


def test_zz_property_counts():
    """The number of examples each report input was tried on in this session (the reliability table's counts)."""
    print("\nproperty examples per reader:", json.dumps({f"report {k}": v for k, v in sorted(TRIED.items())}))


def test_planted_inputs_give_a_report(inputs, tmp_path):
    """The undamaged inputs the properties start from build a report (so a refusal above is the damage's doing)."""
    html = build_report(tmp_path / "r.html", rois=inputs["rois"], explanations=inputs["explanations"],
                        backtest=inputs["backtest"]).read_text(encoding="utf-8")
    assert "Verdict" in html and "Word attributions" in html


def test_forecasts_with_text_target_column_are_read(inputs, tmp_path):
    """The backtest writes a text `target` column (raw, market_adjusted, ...) beside the numbers: not damage."""
    from neurofin.report.market import read_forecasts

    folder = backtest_copy(inputs, tmp_path)
    path = folder / "forecasts.parquet"
    frame = pd.read_parquet(path)
    frame.assign(target="raw", horizon=1).to_parquet(path)
    read = read_forecasts(path)
    assert read["target"].eq("raw").all() and len(read) == len(frame)
    frame.assign(target="raw", horizon="one").to_parquet(path)  # text where a number belongs is still refused
    with pytest.raises(NeurofinError, match="horizon"):
        read_forecasts(path)
