"""Restrained windows as Dask tasks: a LocalCluster on one machine, dask-jobqueue on a
cluster, or an existing scheduler.

Every window is one task; a window that starts from its neighbour's final state
depends on the neighbour's task, so each voltage's chain runs in order and the
chains run side by side. Every window draws its random numbers from its own seed
(see :func:`md_setups.runner.window_seed`) and OpenMM's Reference platform (and
the CPU platform with one thread, where its runs are reproducible) is
deterministic, so a Dask run gives the same window files as the sequential run.
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


def _run_task(values: dict, source: str, out: str, voltage: float, index: int,
              *after: list[str]) -> list[str]:
    """Run one window; ``after`` holds the results of the tasks it waits for (unused)."""
    setup = validate_setup(values, source=source)
    paths = run_windows(setup, out, voltages=[voltage], windows=[index], progress=False)
    return [str(path) for path in paths]


def run_windows_dask(setup: Setup, out: str | os.PathLike, client: Any,
                     threads_per_task: int = 1, progress: bool = False) -> list[Path]:
    """Run every window of a setup as Dask tasks and wait for them.

    Each window is one task. A window that starts from its neighbour's final state
    depends on the neighbour's task, so one voltage's windows run in chain order
    while the voltages run side by side; with ``start_from = "first_voltage"`` a
    window at another voltage also waits for the same window at the first voltage.
    Finished windows are skipped, as in the sequential run.

    Parameters
    ----------
    setup : Setup
    out : path-like
        Run directory (shared by all workers: a shared file system on clusters).
    client : dask.distributed.Client
    threads_per_task : int
        OpenMM CPU threads per task when the setup leaves ``threads = 0``.
    progress : bool
        A progress bar over the finished windows.

    Returns
    -------
    list of Path
        Window files, voltage by voltage in chain order.
    """
    from dask.distributed import as_completed

    from md_setups.builder import ensure_build

    values = setup.to_dict()
    if values["simulation"]["threads"] == 0:
        values["simulation"]["threads"] = threads_per_task
    ensure_build(setup, Path(out) / "build")  # once, before the workers start
    mode = setup["windows"]["start_from"]
    voltages = [float(v) for v in setup.voltages]
    order = chain_order(setup)
    futures: dict[tuple[float, int], Any] = {}
    for voltage in voltages:
        previous = None
        for index in order:
            after = []
            if mode != "built" and previous is not None:
                after.append(futures[(voltage, previous)])
            if mode == "first_voltage" and voltage != voltages[0]:
                after.append(futures[(voltages[0], index)])
            futures[(voltage, index)] = client.submit(
                _run_task, values, setup.source, str(out), voltage, index, *after, pure=False)
            previous = index
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(futures), desc="windows (Dask)", unit="window")
    try:
        for future in as_completed(list(futures.values())):
            future.result()  # raises the first failure here
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return [Path(path) for key in futures for path in futures[key].result()]
