"""ISC filter: leave-one-out and pairwise ISC against plain numpy correlations; the time-shift null."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from neurofin.market.selection.isc import (
    POOLED,
    _subject_matrices,
    circular_shifts,
    isc_table,
    loo_isc,
    null_loo_isc,
    pairwise_isc,
)


def _shared_signal(n_sessions, n_subjects, noise, rng):
    return rng.standard_normal((n_sessions, 1)) + noise * rng.standard_normal((n_sessions, n_subjects))


def test_leave_one_out_isc_matches_corrcoef_against_mean_of_others():
    resp = _shared_signal(60, 5, 1.5, np.random.default_rng(0))
    expected = [np.corrcoef(resp[:, s], np.delete(resp, s, axis=1).mean(axis=1))[0, 1] for s in range(5)]
    np.testing.assert_allclose(loo_isc(resp), expected, rtol=1e-10)


def test_pairwise_isc_matches_mean_of_corrcoef_upper_triangle():
    resp = _shared_signal(60, 5, 1.5, np.random.default_rng(1))
    corr = np.corrcoef(resp.T)
    np.testing.assert_allclose(pairwise_isc(resp), corr[np.triu_indices(5, k=1)].mean(), rtol=1e-10)
    # leave-one-out compares with a less noisy average, so it exceeds the pairwise mean
    assert loo_isc(resp).mean() > 1.2 * pairwise_isc(resp)


def test_isc_works_on_stacked_leading_axes():
    stacked = np.stack([_shared_signal(40, 4, 1.0, np.random.default_rng(k)) for k in range(3)])
    np.testing.assert_allclose(loo_isc(stacked)[1], loo_isc(stacked[1]))
    np.testing.assert_allclose(pairwise_isc(stacked)[2], pairwise_isc(stacked[2]))


def test_circular_shifts_leave_the_first_subject_and_draw_allowed_offsets_for_the_others():
    shifts = circular_shifts(30, 3, 500, np.random.default_rng(0), min_shift=5)
    assert shifts.shape == (500, 3)
    assert (shifts[:, 0] == 0).all() and shifts[:, 1:].min() == 5 and shifts[:, 1:].max() == 25


def _rolled_copies(resp, shifts):
    """The null's shifted copies built one by one (np.roll of each subject's series by its offset)."""
    return np.stack([np.stack([np.roll(resp[:, u], d) for u, d in enumerate(draw)], axis=1) for draw in shifts])


@pytest.mark.parametrize(("n_sessions", "n_subjects"), [(30, 2), (41, 3), (1250, 5)])
def test_null_loo_isc_equals_the_loo_isc_of_the_rolled_copies(n_sessions, n_subjects):
    rng = np.random.default_rng(n_subjects)
    resp = _shared_signal(n_sessions, n_subjects, 1.0, rng) + 3.0
    shifts = circular_shifts(n_sessions, n_subjects, 60, rng, min_shift=3)
    expected = np.nanmean(loo_isc(_rolled_copies(resp, shifts)), axis=-1)
    np.testing.assert_allclose(null_loo_isc(resp, shifts), expected, rtol=0, atol=1e-12)


def test_null_loo_isc_of_a_batch_equals_each_series_alone():
    rng = np.random.default_rng(7)
    resp = np.stack([_shared_signal(50, 3, 1.0 + k, rng) for k in range(4)])
    shifts = np.stack([circular_shifts(50, 3, 25, rng, min_shift=3) for _ in range(4)])
    batched = null_loo_isc(resp, shifts)
    assert batched.shape == (4, 25)
    for k in range(4):
        np.testing.assert_allclose(batched[k], null_loo_isc(resp[k], shifts[k]), rtol=0, atol=1e-14)


def test_null_loo_isc_leaves_out_a_constant_subject_like_loo_isc():
    rng = np.random.default_rng(5)
    resp = _shared_signal(40, 3, 1.0, rng)
    resp[:, 2] = 0.0
    shifts = circular_shifts(40, 3, 20, rng, min_shift=3)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.nanmean(loo_isc(_rolled_copies(resp, shifts)), axis=-1)
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(null_loo_isc(resp, shifts), expected, rtol=0, atol=1e-12)


def _panel(n_tickers, n_sessions, n_subjects, shared, rng, roi="roi_a"):
    sessions = pd.bdate_range("2021-01-04", periods=n_sessions)
    rows = []
    for t in range(n_tickers):
        common = rng.standard_normal(n_sessions) if shared else np.zeros(n_sessions)
        for s in range(n_subjects):
            rows.append(pd.DataFrame({"session": sessions, "ticker": f"T{t:03d}", "subject": f"UTS{s:02d}",
                                      roi: common + rng.standard_normal(n_sessions)}))
    return pd.concat(rows, ignore_index=True)


def test_time_shift_null_gives_uniform_p_values_without_shared_signal():
    panel = _panel(n_tickers=150, n_sessions=40, n_subjects=3, shared=False, rng=np.random.default_rng(3))
    table = isc_table(panel, ["roi_a"], ["UTS00", "UTS01", "UTS02"], scope="ticker", n_null=99, min_shift=3,
                      null_quantile=0.9, seed=1)
    p = table["p_value"].to_numpy()
    assert p.size == 150
    for level in (0.1, 0.5):  # rejection rates inside a 99.9% binomial band around the nominal level
        low, high = stats.binom.ppf([0.0005, 0.9995], p.size, level) / p.size
        assert low <= np.mean(p <= level) <= high
    assert stats.kstest(p, "uniform").pvalue > 0.001
    assert 0.02 <= table["passed"].mean() <= 0.2  # threshold = 0.9 null quantile: ~10% pass by chance


def test_shared_signal_passes_and_pooled_scope_averages_tickers():
    rng = np.random.default_rng(4)
    shared = _panel(4, 60, 4, shared=True, rng=rng, roi="coherent")
    noise = _panel(4, 60, 4, shared=False, rng=rng, roi="incoherent")
    panel = shared.merge(noise, on=["session", "ticker", "subject"])
    subjects = [f"UTS{s:02d}" for s in range(4)]
    pooled = isc_table(panel, ["coherent", "incoherent"], subjects, n_null=100, seed=0).set_index("roi")
    assert pooled["ticker"].eq(POOLED).all()
    assert pooled.loc["coherent", "passed"] and pooled.loc["coherent", "p_value"] <= 0.01
    assert not pooled.loc["incoherent", "passed"]
    per_ticker = [loo_isc(g.pivot(index="session", columns="subject", values="coherent")[subjects].to_numpy()).mean()
                  for _, g in panel.groupby("ticker")]
    assert pooled.loc["coherent", "loo_isc"] == pytest.approx(np.mean(per_ticker))


def test_isc_scope_must_be_known():
    with pytest.raises(ValueError, match="scope"):
        isc_table(_panel(1, 30, 2, True, np.random.default_rng(0)), ["roi_a"], ["UTS00", "UTS01"], scope="roi")


def test_one_pivot_gives_each_tickers_complete_sessions_per_roi():
    """`_subject_matrices` (one pivot for every ROI and ticker) equals a pivot per (ticker, ROI) with the sessions
    that miss a subject dropped, on a panel with gaps per subject and ROI, a duplicated row, a ticker without one
    subject and a ticker whose ROI is never observed."""
    rng = np.random.default_rng(7)
    panel = pd.concat([_panel(4, 30, 3, True, rng, roi="roi_a").assign(roi_b=lambda f: rng.standard_normal(len(f)))])
    panel.loc[rng.random(len(panel)) < 0.1, "roi_a"] = np.nan
    panel.loc[rng.random(len(panel)) < 0.1, "roi_b"] = np.nan
    panel = panel[~((panel["ticker"] == "T001") & (panel["subject"] == "UTS02"))]
    panel.loc[panel["ticker"] == "T002", "roi_b"] = np.nan
    panel = pd.concat([panel, panel.iloc[[5]].assign(roi_a=1.5)]).sample(frac=1.0, random_state=0)
    subjects = ["UTS00", "UTS01", "UTS02"]
    matrices = _subject_matrices(panel, ["roi_a", "roi_b"], subjects)
    for roi in ("roi_a", "roi_b"):
        expected = {}
        for ticker, rows in panel.groupby("ticker"):
            wide = rows.pivot_table(index="session", columns="subject", values=roi, aggfunc="mean")
            resp = wide.reindex(columns=subjects).dropna().to_numpy(float)
            if resp.shape[0]:
                expected[ticker] = resp
        assert matrices[roi].keys() == expected.keys()
        for ticker, resp in expected.items():
            np.testing.assert_array_equal(matrices[roi][ticker], resp)
    assert "T001" not in matrices["roi_a"] and "T002" not in matrices["roi_b"] and "T000" in matrices["roi_b"]
