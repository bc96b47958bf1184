"""`neurofin data check`: clean on a synthetic dataset; each kind of damage gives its own fix and exit 2."""

import json
import os
import shutil
from pathlib import Path

import h5py
import pytest
from typer.testing import CliRunner

from neurofin import cli
from neurofin.data.check import check_dataset
from neurofin.data.synth import SynthSpec, make_synthetic_dataset

N_VOXELS = 40
SUBJECTS = ["UTS01", "UTS02"]
TEST_STORY = "wheretheressmoke"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    make_synthetic_dataset(out, n_subjects=2, n_stories=2, n_voxels=N_VOXELS, seed=3, spec=SynthSpec(n_repeats=2))
    return out


@pytest.fixture
def data(pristine, tmp_path) -> Path:
    """A private copy of the synthetic dataset root (the folder that holds ds003020/) to damage."""
    copy = tmp_path / "data"
    shutil.copytree(pristine, copy, symlinks=True)
    return copy


def _derivative(data: Path) -> Path:
    return data / "ds003020" / "derivative"


def _respdict(data: Path) -> dict[str, int]:
    return json.loads((_derivative(data) / "respdict.json").read_text())


def _hf5(data: Path, subject: str, story: str) -> Path:
    return _derivative(data) / "preprocessed_data" / subject / f"{story}.hf5"


def _a_training_story(data: Path) -> str:
    return sorted(s for s in _respdict(data) if s != TEST_STORY)[0]


def _run(data: Path, *extra: str):
    cli._register()
    return CliRunner().invoke(cli.app, ["data", "check", str(data), *extra])


def _table(output: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in output.splitlines() if line.startswith("UTS")}


def _only_problem(data: Path, kind: str):
    """Exit 2, and exactly one problem, of `kind`, printed with its kind tag."""
    result = _run(data)
    assert result.exit_code == 2, result.output
    problems = check_dataset(data).problems
    assert [p.kind for p in problems] == [kind], problems
    assert f"- [{kind}] {problems[0].message}" in result.output
    return problems[0], result.output


def test_clean_synthetic_dataset_exits_0_with_the_right_table(data):
    result = _run(data)
    assert result.exit_code == 0, result.output
    respdict = _respdict(data)
    expected = [str(len(respdict)), str(sum(n - 20 for n in respdict.values())), str(N_VOXELS), "0"]
    assert _table(result.output) == {s: expected for s in SUBJECTS}
    assert "OK: no problems" in result.output
    report = check_dataset(data / "ds003020" / "derivative", subjects=["UTS02"])
    assert report.ok and [s.subject for s in report.subjects] == ["UTS02"] and report.textgrids == len(respdict)


def test_truncated_hf5(data):
    story = _a_training_story(data)
    path = _hf5(data, "UTS01", story)
    os.truncate(path, path.stat().st_size // 2)
    problem, output = _only_problem(data, "truncated_hf5")
    assert (problem.subject, problem.story) == ("UTS01", story)
    assert str(path) in problem.message and "truncated" in problem.message
    assert f"neurofin data download --subjects UTS01 --dest {data.resolve()}" in problem.message
    respdict = _respdict(data)
    table = _table(output)
    assert table["UTS01"][:2] == [str(len(respdict) - 1), str(sum(respdict.values()) - 20 * len(respdict) -
                                                              (respdict[story] - 20))]
    assert table["UTS01"][3] == "1" and table["UTS02"][3] == "0"


@pytest.mark.parametrize("form", ["pointer_file", "dangling_link"])
def test_textgrid_replaced_by_git_annex_pointer(data, form):
    story = _a_training_story(data)
    path = _derivative(data) / "TextGrids" / f"{story}.TextGrid"
    path.unlink()
    key = "SHA256E-s123456--0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0.TextGrid"
    if form == "pointer_file":
        path.write_text(f"/annex/objects/{key}\n")
    else:
        path.symlink_to(f"../../.git/annex/objects/Xk/3v/{key}/{key}")
    problem, _ = _only_problem(data, "annex_pointer")
    assert (problem.subject, problem.story) == (None, story)
    assert str(path) in problem.message and "git-annex pointer" in problem.message
    assert f"git annex get {path}" in problem.message and f"datalad get {path}" in problem.message
    assert "neurofin data download --subjects UTS01" in problem.message


def test_hf5_left_as_dangling_annex_link(data):
    path = _hf5(data, "UTS02", TEST_STORY)
    path.unlink()
    path.symlink_to("../../../.git/annex/objects/aa/bb/SHA256E-s99--ff.hf5/SHA256E-s99--ff.hf5")
    problem, _ = _only_problem(data, "annex_pointer")
    assert (problem.subject, problem.story) == ("UTS02", TEST_STORY)
    assert f"neurofin data download --subjects UTS02 --dest {data.resolve()}" in problem.message


def test_deleted_story(data):
    story = _a_training_story(data)
    path = _hf5(data, "UTS02", story)
    path.unlink()
    problem, output = _only_problem(data, "missing_story")
    assert problem.subject == "UTS02" and story in problem.message
    assert "listed in respdict.json have no response file" in problem.message
    assert "neurofin data download --subjects UTS02" in problem.message and "--allow-missing-stories" in problem.message
    assert _table(output)["UTS02"][0] == str(len(_respdict(data)) - 1)


def test_partial_story_sets_pass_when_allowed(data):
    story = _a_training_story(data)
    _hf5(data, "UTS02", story).unlink()
    result = _run(data, "--allow-missing-stories")
    assert result.exit_code == 0, result.output


def _rewrite_hf5(path: Path, change) -> None:
    """Replace the response file by `change(responses)`."""
    with h5py.File(path, "r") as fh:
        resp = fh["data"][...]
    path.unlink()
    with h5py.File(path, "w") as fh:
        fh["data"] = change(resp)


def test_row_count_mismatch(data):
    story = _a_training_story(data)
    _rewrite_hf5(_hf5(data, "UTS01", story), lambda resp: resp[:-3])
    n_raw = _respdict(data)[story]
    problem, _ = _only_problem(data, "row_count")
    assert (problem.subject, problem.story) == ("UTS01", story)
    assert f"has {n_raw - 23} rows but respdict.json gives {n_raw} TRs" in problem.message
    assert f"should have {n_raw} - 20 = {n_raw - 20}" in problem.message


def test_voxel_count_mismatch(data):
    story = _a_training_story(data)
    _rewrite_hf5(_hf5(data, "UTS01", story), lambda resp: resp[:, :-1])
    problem, _ = _only_problem(data, "voxel_count")
    assert f"has {N_VOXELS - 1} voxel columns but UTS01's mask_thick has {N_VOXELS} voxels" in problem.message


def test_missing_textgrid_says_where_it_belongs(data):
    path = _derivative(data) / "TextGrids" / f"{TEST_STORY}.TextGrid"
    path.unlink()
    problem, _ = _only_problem(data, "missing_textgrid")
    assert problem.story == TEST_STORY and f"it should be at {path}" in problem.message
    assert "neurofin data download" in problem.message


def test_unknown_subject_is_reported(data):
    result = _run(data, "--subjects", "UTS01,UTS09")
    assert result.exit_code == 2, result.output
    assert set(_table(result.output)) == {"UTS01", "UTS09"}
    assert "[missing_subject] UTS09 has no response folder" in result.output
    assert "neurofin data download --subjects UTS09" in result.output


def _words_tier_edit(path: Path, old: bytes, new: bytes) -> None:
    """Replace the first `old` after the words tier's name (bytes, so any encoding can be planted)."""
    raw = path.read_bytes()
    at = raw.index(b'name = "words"')
    assert old in raw[at:]
    path.write_bytes(raw[:at] + raw[at:].replace(old, new, 1))


@pytest.mark.parametrize("damage", ["overlapping words", "latin-1 bytes"])
def test_textgrid_oddities_are_warned_but_do_not_fail(data, damage):
    """Issue 16.12: overlapping words (clipped when read) and non-UTF-8 bytes (read as Latin-1) passed silently."""
    import re

    path = sorted((_derivative(data) / "TextGrids").glob("*.TextGrid"))[0]
    text = path.read_bytes()[path.read_bytes().index(b'name = "words"'):].decode()
    first, second = re.findall(r'xmin = (\S+) \n\s+xmax = (\S+) \n\s+text = "([^"]+)"', text)[:2]
    if damage == "overlapping words":
        _words_tier_edit(path, f'xmax = {first[1]} \n            text = "{first[2]}"'.encode(),
                         f'xmax = {float(second[0]) + 0.05:.4f} \n            text = "{first[2]}"'.encode())
        expected = "overlap"
    else:
        _words_tier_edit(path, f'text = "{first[2]}"'.encode(), b'text = "caf\xe9"')
        expected = "Latin-1"
    result = _run(data)
    assert result.exit_code == 0, result.output  # a warning, not a problem: the file is still usable
    warnings = check_dataset(data).warnings
    assert len(warnings) == 1 and expected in warnings[0].message and str(path) in warnings[0].message
    assert f"warning: {warnings[0].message}" in result.output


def test_clean_dataset_has_no_warnings(data):
    assert check_dataset(data).warnings == []


def test_nan_and_inf_responses_are_reported_with_file_and_count(data):
    """Issue 20: 3 NaN TRs in one voxel passed `data check`; now the file, the counts and the voxels are named."""
    import numpy as np

    story = _a_training_story(data)
    path = _hf5(data, "UTS01", story)

    def damage(resp):
        resp = resp.copy()
        resp[[3, 7, 11], 5] = np.nan
        resp[0, 2] = np.inf
        return resp

    _rewrite_hf5(path, damage)
    problem, _ = _only_problem(data, "nonfinite")
    assert (problem.subject, problem.story) == ("UTS01", story)
    assert str(path) in problem.message
    assert "4 non-finite values (3 NaN, 1 inf) in 2 voxel column(s)" in problem.message


def test_nan_features_in_the_feature_cache_are_reported(data, tmp_path):
    import numpy as np

    from neurofin.features.cache import WordFeatures, save_word_features

    cache = tmp_path / "feature-cache"
    values = np.ones((6, 2, 4), dtype=np.float16)
    save_word_features(cache / "clean.safetensors", WordFeatures(["a"] * 6, np.arange(6.0), values), {"story": "s"})
    values[1, 0, 2] = values[4, 1, 3] = np.nan
    save_word_features(cache / "damaged.safetensors", WordFeatures(["a"] * 6, np.arange(6.0), values), {"story": "s"})
    result = _run(data, "--feature-cache", str(cache))
    assert result.exit_code == 2, result.output
    problems = [line for line in result.output.splitlines() if line.startswith("- [")]
    assert len(problems) == 1 and problems[0].startswith("- [nonfinite]")
    assert str(cache / "damaged.safetensors") in problems[0] and "2 non-finite values (2 NaN, 0 inf)" in problems[0]
    assert _run(data).exit_code == 0  # the cache is checked only when asked for
