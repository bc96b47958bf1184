"""The serve batcher: concurrent requests share predict calls and each gets back exactly its own rows."""

from __future__ import annotations

import asyncio
import time

import pandas as pd
import pytest

from neurofin.serve import Batcher, results_json


def fake_predict(calls: list[list[str]], delay_s: float = 0.05):
    """predict_rois stand-in: one row per (text, subject) like the Predictor, value = len(text); records its calls."""

    def predict(texts: list[str], ids: list[str]) -> pd.DataFrame:
        calls.append(list(texts))
        time.sleep(delay_s)
        rows = [{"id": i, "subject": s, "n_words": len(t.split()), "truncated": False, "error": None, "roi": float(len(t))}
                for s in ("S1", "ensemble") for i, t in zip(ids, texts)]
        return pd.DataFrame(rows)

    return predict


def test_requests_within_the_window_share_one_call_and_get_their_own_rows():
    calls: list[list[str]] = []

    async def scenario():
        batcher = Batcher(fake_predict(calls), max_wait_ms=50, max_batch=64)
        await batcher.start()
        requests = [[f"text {'x' * k}"] for k in range(10)] + [["two texts", "in one request"]]
        ids = [[f"id{k}"] for k in range(10)] + [["same", "id0"]]  # ids may repeat across requests
        frames = await asyncio.gather(*(batcher.submit(t, i) for t, i in zip(requests, ids)))
        await batcher.stop()
        return requests, ids, frames, batcher.stats

    requests, ids, frames, stats = asyncio.run(scenario())
    assert len(calls) == 1 and len(calls[0]) == 12  # one shared forward pass
    assert stats.requests == 11 and stats.batches == 1 and stats.texts == 12
    for texts, want_ids, frame in zip(requests, ids, frames):
        assert frame[frame["subject"] == "S1"]["id"].tolist() == want_ids
        assert frame[frame["subject"] == "S1"]["roi"].tolist() == [float(len(t)) for t in texts]


def test_max_batch_splits_and_busy_time_accumulates_the_next_batch():
    calls: list[list[str]] = []

    async def scenario():
        batcher = Batcher(fake_predict(calls, delay_s=0.2), max_wait_ms=0, max_batch=4)
        await batcher.start()
        frames = await asyncio.gather(*(batcher.submit([f"t{k}"], [f"i{k}"]) for k in range(9)))
        await batcher.stop()
        return frames

    frames = asyncio.run(scenario())
    assert [len(c) for c in calls] == [4, 4, 1]
    assert [f["id"].iloc[0] for f in frames] == [f"i{k}" for k in range(9)]


def test_a_failing_predict_fails_every_request_of_its_batch():
    def broken(texts, ids):
        raise RuntimeError("out of memory")

    async def scenario():
        batcher = Batcher(broken, max_wait_ms=20)
        await batcher.start()
        results = await asyncio.gather(batcher.submit(["a"], ["1"]), batcher.submit(["b"], ["2"]), return_exceptions=True)
        await batcher.stop()
        return results

    assert all(isinstance(r, RuntimeError) for r in asyncio.run(scenario()))


def test_results_json_nests_subjects_and_nulls_missing_values():
    frame = pd.DataFrame([
        {"id": "b", "subject": "S1", "n_words": 0, "truncated": False, "error": "no words", "roi": float("nan")},
        {"id": "a", "subject": "S1", "n_words": 2, "truncated": True, "error": None, "roi": 0.5},
        {"id": "b", "subject": "ensemble", "n_words": 0, "truncated": False, "error": "no words", "roi": float("nan")},
        {"id": "a", "subject": "ensemble", "n_words": 2, "truncated": True, "error": None, "roi": 0.5},
    ])
    out = results_json(frame, ["a", "b"], ["roi"])
    assert out == [
        {"id": "a", "n_words": 2, "truncated": True, "error": None, "rois": {"S1": {"roi": 0.5}, "ensemble": {"roi": 0.5}}},
        {"id": "b", "n_words": 0, "truncated": False, "error": "no words", "rois": {"S1": {"roi": None}, "ensemble": {"roi": None}}},
    ]
    with pytest.raises(KeyError):
        results_json(frame, ["a"], ["roi"])  # every returned id must have been asked for
