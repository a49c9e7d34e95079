"""Restrained windows as Dask tasks: a LocalCluster on one machine, dask-jobqueue on a
cluster, or an existing scheduler.

Windows that start from their neighbour's final state run as one task per voltage
(a chain); windows that start from the build run as one task each. Every window
draws its random numbers from its own seed (see :func:`md_setups.runner.window_seed`)
and OpenMM's CPU platform with one thread is deterministic, so a Dask run gives the
same window files as the sequential run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from md_setups.runner import chain_order, run_windows
from md_setups.setup import Setup, validate_setup


def make_client(scheduler: str = "local", workers: int = 2, **cluster_options: Any) -> Any:
    """A Dask client for the chosen scheduler.

    Parameters
    ----------
    scheduler : str
        ``local`` (a ``LocalCluster`` of processes, one thread each), ``slurm`` or
        ``pbs`` (a ``dask_jobqueue`` cluster scaled to ``workers`` jobs), or the
        address of a running scheduler (``tcp://host:port``).
    workers : int
        Number of workers.
    **cluster_options
        Passed to the cluster (e.g. ``cores``, ``memory``, ``queue``, ``walltime``
        for dask-jobqueue).

    Returns
    -------
    dask.distributed.Client
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise RuntimeError("Dask is not installed; pip install -e '.[cluster]' or use "
                           "scheduler = \"sequential\"") from None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, **cluster_options)
        return Client(cluster)
    if scheduler in ("slurm", "pbs"):
        try:
            import dask_jobqueue
        except ImportError:
            raise RuntimeError("dask-jobqueue is not installed; pip install -e '.[cluster]'") from None
        kind = dask_jobqueue.SLURMCluster if scheduler == "slurm" else dask_jobqueue.PBSCluster
        options = {"cores": 1, "memory": "4GB", **cluster_options}
        cluster = kind(**options)
        cluster.scale(jobs=workers)
        return Client(cluster)
    if "://" in scheduler or ":" in scheduler:
        return Client(scheduler)
    raise ValueError(f"unknown scheduler {scheduler!r}: use sequential, local, slurm, pbs or "
                     "a scheduler address tcp://host:port")


def _run_task(values: dict, source: str, out: str, voltage: float,
              windows: list[int] | None) -> list[str]:
    setup = validate_setup(values, source=source)
    paths = run_windows(setup, out, voltages=[voltage], windows=windows, progress=False)
    return [str(path) for path in paths]


def run_windows_dask(setup: Setup, out: str | os.PathLike, client: Any,
                     threads_per_task: int = 1) -> list[Path]:
    """Run every window of a setup as Dask tasks and wait for them.

    Parameters
    ----------
    setup : Setup
    out : path-like
        Run directory (shared by all workers: a shared file system on clusters).
    client : dask.distributed.Client
    threads_per_task : int
        OpenMM CPU threads per task when the setup leaves ``threads = 0``.

    Returns
    -------
    list of Path
        Window files.
    """
    from md_setups.builder import ensure_build

    values = setup.to_dict()
    if values["simulation"]["threads"] == 0:
        values["simulation"]["threads"] = threads_per_task
    ensure_build(setup, Path(out) / "build")  # once, before the workers start
    mode = setup["windows"]["start_from"]
    voltages = [float(v) for v in setup.voltages]
    results = []
    if mode == "first_voltage":
        # the other voltages start from this voltage's final states: run it first
        results += client.gather([client.submit(_run_task, values, setup.source, str(out),
                                                voltages[0], None, pure=False)])
        voltages = voltages[1:]
    tasks = []
    for voltage in voltages:
        if mode != "built":
            tasks.append((voltage, None))
        else:
            tasks.extend((voltage, [index]) for index in chain_order(setup))
    futures = [client.submit(_run_task, values, setup.source, str(out), voltage, windows,
                             pure=False) for voltage, windows in tasks]
    results += client.gather(futures)
    return [Path(path) for paths in results for path in paths]
