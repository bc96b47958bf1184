"""Run independent tasks in parallel: on a Ray cluster (`ray_address`) or in local worker processes.

Ray is imported only here, and only when a Ray address is given, so the single-machine path never needs it.
`local` starts a Ray instance on this machine, `auto` joins the cluster this node belongs to (`ray start`,
KubeRay), anything else is a cluster address (`ray://host:10001` or `host:6379`).
"""

from __future__ import annotations

import multiprocessing
import os
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from neurofin.errors import InputError


def import_ray() -> Any:
    """The `ray` module, or an InputError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise InputError("--ray-address needs Ray: pip install 'neurofin[scale]' (or drop --ray-address)") from None
    return ray


REACH_TIMEOUT_S = 10.0  # how long a cluster address may take to accept a TCP connection


def check_reachable(address: str) -> None:
    """InputError unless something accepts TCP connections at a `host:port` or `ray://host:port` address.

    Without this, `ray.init` retries an address where nothing listens for minutes before it says anything.
    """
    bare = address.removeprefix("ray://")
    host, colon, port = bare.rpartition(":") if not bare.endswith("]") else (bare, "", "")
    if not colon:  # Ray's default ports: the GCS, or the Ray Client server
        host, port = bare, "10001" if address.startswith("ray://") else "6379"
    if not host or not port.isdigit():
        raise InputError(f"--ray-address {address!r} is not host:port (or ray://host:port, local, auto): "
                         "give the address `ray start --head` printed")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_TIMEOUT_S).close()
    except (OSError, OverflowError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise InputError(f"no Ray cluster answers at --ray-address {address} ({reason}): start it with "
                         "`ray start --head`, check the address and firewall, or pass --ray-address local") from None


def connect(address: str, num_cpus: int | None = None) -> Any:
    """Connect to (or with 'local' start) a Ray cluster once per process; returns the ray module."""
    ray = import_ray()
    if not ray.is_initialized():
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "ignore_reinit_error": True}
        if address == "local":
            options["num_cpus"] = num_cpus
            # local workers import neurofin exactly as this process does (also from a source checkout)
            path = os.pathsep.join(p for p in [os.environ.get("PYTHONPATH", "")] if p)
            options["runtime_env"] = {"env_vars": {"PYTHONPATH": path}} if path else None
            ray.init(**options)
        else:
            if address != "auto":
                check_reachable(address)
            try:
                ray.init(address=address, **options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise InputError(f"cannot join the Ray cluster at {address!r} ({exc}): start it with `ray start --head` "
                                 "or pass --ray-address local") from None
    return ray


def gpus_available(ray: Any) -> int:
    """GPUs the connected Ray cluster offers."""
    return int(ray.cluster_resources().get("GPU", 0))


def run_tasks(
    fn: Callable[..., Any], calls: Sequence[tuple], ray_address: str | None = None, workers: int | None = None,
    gpu: bool = False,
) -> list[Any]:
    """`[fn(*args) for args in calls]`, in that order, computed in parallel.

    With `ray_address`: one Ray task per call (num_gpus=1 each when `gpu` and the cluster has GPUs).
    Without: `workers` local processes (default: CPU count). Exceptions propagate (NeurofinErrors unchanged).
    """
    if not calls:
        return []
    if ray_address is not None:
        ray = connect(ray_address)
        resources = {"num_gpus": 1} if gpu and gpus_available(ray) else {"num_cpus": 1}
        task = ray.remote(**resources)(fn)
        refs = [task.remote(*args) for args in calls]
        try:
            return ray.get(refs)
        except ray.exceptions.RayTaskError as exc:
            raise exc.as_instanceof_cause() from None
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(calls) == 1:
        return [fn(*args) for args in calls]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(calls)), mp_context=context) as pool:
        return list(pool.map(fn, *zip(*calls)))
