"""`neurofin serve` over real HTTP: a server subprocess on 127.0.0.1 scoring with SmolLM2 packages."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from neurofin.infer.predictor import Predictor

pytestmark = pytest.mark.slow  # trains SmolLM2 packages and starts a server: ~2 min on 2 shared cores

SRC = Path(__file__).resolve().parents[2] / "src"
TEXTS = ["buying more calls on $TSLA before earnings", "", "I sold everything and feel sick", "🚀🚀"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(smollm2_models):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "neurofin.cli", "serve", "--packages", str(smollm2_models.packages[0].parent),
           "--data-root", str(smollm2_models.dataset.root), "--atlas-cache", str(smollm2_models.atlas_cache),
           "--port", str(port), "--max-wait-ms", "20"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while True:
        if proc.poll() is not None:
            pytest.fail(f"server exited {proc.returncode}: {proc.stdout.read()}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("server did not come up within 240 s")
        time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def reference(smollm2_models):
    """The same packages scored in this process (the single-process path the server must reproduce)."""
    return Predictor.from_packages(smollm2_models.packages, data_root=smollm2_models.dataset.root,
                                   atlas_cache=smollm2_models.atlas_cache)


def _as_array(result: dict, subject: str, regions: list[str]) -> np.ndarray:
    return np.array([np.nan if result["rois"][subject][r] is None else result["rois"][subject][r] for r in regions])


def test_health_reports_loaded_packages(server, smollm2_models, reference):
    response = httpx.get(server + "/health")
    body = response.json()
    assert str(smollm2_models.packages[0].parent) not in response.text  # no file-system paths
    assert body["status"] == "ok"
    assert body["subjects"] == ["UTS01", "UTS02"] and body["regions"] == reference.region_names
    assert [p["subject"] for p in body["packages"]] == ["UTS01", "UTS02"]
    assert all(len(p["manifest_sha256"]) == 64 for p in body["packages"])


def test_predict_matches_in_process_predictor(server, reference):
    response = httpx.post(server + "/predict", json={"texts": TEXTS, "ids": ["a", "b", "c", "d"]}, timeout=120)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["id"] for r in body["results"]] == ["a", "b", "c", "d"]
    assert body["subjects"] == ["UTS01", "UTS02", "ensemble"]
    expected = reference.predict_rois(TEXTS, ["a", "b", "c", "d"])
    regions = body["regions"]
    for result in body["results"]:
        for subject in body["subjects"]:
            want = expected[(expected["id"] == result["id"]) & (expected["subject"] == subject)][regions].to_numpy()[0]
            np.testing.assert_allclose(_as_array(result, subject, regions), want, rtol=1e-4, atol=1e-6)
    by_id = {r["id"]: r for r in body["results"]}
    assert by_id["a"]["error"] is None and by_id["a"]["n_words"] == 7
    assert by_id["b"]["error"] and by_id["d"]["error"]
    assert all(v is None for v in by_id["b"]["rois"]["ensemble"].values())  # no words: null, never 0
    a = {s: _as_array(by_id["a"], s, regions) for s in body["subjects"]}
    assert np.isfinite(a["UTS01"]).sum() >= len(regions) // 2
    np.testing.assert_allclose(a["ensemble"], np.nanmean([a["UTS01"], a["UTS02"]], axis=0), rtol=1e-6)


def test_concurrent_requests_share_batches_and_get_their_own_rows(server, reference):
    texts = [f"comment {i}: the {w} stock is going {d}" for i, (w, d) in
             enumerate(zip(["tesla", "apple", "gamestop", "nvidia"] * 4, ["up", "down", "sideways", "nowhere"] * 4))]
    before = httpx.get(server + "/health").json()["batching"]
    with httpx.Client(timeout=120) as client, ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(lambda i: client.post(server + "/predict", json={"texts": [texts[i]], "ids": [f"x{i}"]}), range(16)))
    after = httpx.get(server + "/health").json()["batching"]
    assert all(r.status_code == 200 for r in responses)
    assert after["requests"] - before["requests"] == 16
    assert after["batches"] - before["batches"] < 16  # requests were merged into shared forward passes
    expected = reference.predict_rois(texts, [f"x{i}" for i in range(16)])
    for i, response in enumerate(responses):
        (result,) = response.json()["results"]
        assert result["id"] == f"x{i}"
        want = expected[(expected["id"] == f"x{i}") & (expected["subject"] == "ensemble")][reference.region_names].to_numpy()[0]
        np.testing.assert_allclose(_as_array(result, "ensemble", reference.region_names), want, rtol=1e-4, atol=1e-6)


def test_lone_surrogates_are_scored_as_u_fffd_and_the_server_keeps_serving(server, reference):
    """Today: a lone surrogate id kills the batcher; this and every later /predict never answer."""
    body = b'{"texts": ["half an emoji \\ud83d on $GME", "calls"], "ids": ["\\ud800", "b"]}'
    response = httpx.post(server + "/predict", content=body, headers={"content-type": "application/json"}, timeout=120)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["id"] for r in results] == ["\ufffd", "b"] and [r["repaired_characters"] for r in results] == [2, 0]
    expected = reference.predict_rois(["half an emoji \ufffd on $GME"], ["x"])
    want = expected[expected["subject"] == "ensemble"][reference.region_names].to_numpy()[0]
    np.testing.assert_allclose(_as_array(results[0], "ensemble", reference.region_names), want, rtol=1e-4, atol=1e-6)
    assert httpx.post(server + "/predict", json={"texts": ["still serving"]}, timeout=120).status_code == 200


@pytest.mark.parametrize(("payload", "message"), [
    ({"texts": []}, "texts"),
    ({"texts": "just one string"}, "valid list"),
    ({"texts": ["a", "b"], "ids": ["1"]}, "one id per text"),
    ({"texts": ["a", "b"], "ids": ["1", "1"]}, "ids repeat"),
    ({"texts": [3]}, "valid string"),
    ({"comments": ["a"]}, "texts: Field required"),
])
def test_bad_payloads_get_422_with_a_message(server, payload, message):
    response = httpx.post(server + "/predict", json=payload)
    assert response.status_code == 422
    assert message in response.json()["error"]


def test_non_json_body_and_wrong_method_are_4xx(server):
    response = httpx.post(server + "/predict", content=b"not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "JSON" in response.json()["error"]
    assert httpx.get(server + "/predict").status_code == 405
