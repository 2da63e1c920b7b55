"""``run(stacks, out, ...)``: many stacks on a dask.distributed cluster.

The client side: find the stacks and their prompts, skip those already
complete, start (or join) a cluster, give every worker a model cache, send
one task per stack, draw one progress bar, and write the report after every
stack so that an interrupted batch resumes where it stopped.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from napari_sam2.batch.jobs import StackJob, expand_stacks, make_jobs
from napari_sam2.batch.options import ModelSettings, StackSettings
from napari_sam2.batch.report import (
    FAILED,
    REPORT_NAME,
    BatchReport,
    StackEntry,
    is_complete,
    read_entries,
    remove_partials,
    write_report,
)

__all__ = ["ClusterSettings", "run"]


@dataclass(frozen=True)
class ClusterSettings:
    """Where the batch runs.

    ``scheduler``: address of a running dask scheduler (e.g. a SLURM cluster's);
    None starts a ``LocalCluster`` of ``workers`` processes (default: one per
    GPU, else one) on ``host``, each with ``torch_threads`` threads for torch
    (default: the CPU cores shared out; on an existing cluster, the cores each
    worker process may use). ``retries``: how often a stack is run again after
    its worker died (dask's ``retries`` for the task, and the local
    scheduler's ``allowed-failures``; an existing scheduler keeps its own).
    """

    scheduler: str | None = None
    workers: int | None = None
    torch_threads: int | None = None
    retries: int = 2
    host: str = "127.0.0.1"
    dashboard_address: str = ":8787"
    connect_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.torch_threads is not None and self.torch_threads < 1:
            raise ValueError(f"torch threads must be at least 1, got {self.torch_threads}")
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries}")


def _local_workers(device: str) -> int:
    """One worker per GPU (each loads its own model); on a CPU one, using every core."""
    if device in ("auto", "cuda"):
        import torch

        if torch.cuda.is_available():
            return max(1, torch.cuda.device_count())
    return 1


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _dashboard(client) -> str:
    import importlib.util

    link = client.dashboard_link
    if importlib.util.find_spec("bokeh") is None:
        return f"dashboard: {link} (needs the bokeh package: pip install bokeh)"
    return f"dashboard: {link}"


@contextmanager
def _connect(cluster: ClusterSettings, model: ModelSettings) -> Iterator:
    """A client of the cluster, with the model cache registered on every worker."""
    import dask
    from distributed import Client, LocalCluster

    from napari_sam2.batch.worker import ModelCache, ensure_cache

    if cluster.scheduler:
        try:
            client = Client(cluster.scheduler, timeout=cluster.connect_timeout_s)
        except (OSError, TimeoutError) as err:
            raise ValueError(f"cannot reach the dask scheduler at {cluster.scheduler}: "
                             f"{err}") from None
        with client:
            ensure_cache(client, cluster.torch_threads)
            yield client
        return
    n = cluster.workers or _local_workers(model.device)
    threads = cluster.torch_threads or max(1, (os.cpu_count() or 1) // n)
    # allowed-failures is read when the scheduler starts: how often a task may be
    # on a worker that dies before it is given up (KilledWorker).
    with dask.config.set({"distributed.scheduler.allowed-failures": cluster.retries}):
        local = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                             host=cluster.host, dashboard_address=cluster.dashboard_address,
                             silence_logs=logging.CRITICAL)
    with local, Client(local) as client:
        client.register_plugin(ModelCache(threads))
        yield client


def _failed(job: StackJob, error: str) -> StackEntry:
    return StackEntry(job.stack, job.output, FAILED, error=error)


def _collect(client, futures: dict, bar, on_entry) -> None:
    """Wait for every task, handing each stack's entry to ``on_entry`` as it ends."""
    from distributed import as_completed

    pending = as_completed(list(futures))
    while not pending.is_empty():
        ready = pending.next_batch(block=False)
        bar.drain()
        if not ready:
            time.sleep(0.1)
            continue
        for future in ready:
            job = futures[future]
            try:
                entry = future.result()
            except Exception as err:  # noqa: BLE001 - e.g. KilledWorker: its worker kept dying
                entry = _failed(job, f"{type(err).__name__}: {err}".splitlines()[0])
            on_entry(job.stem, entry)
            bar.stack_finished(job.stem)


def run(stacks: Iterable[str | os.PathLike], out: str | os.PathLike, *,
        prompts_dir: str | os.PathLike | None = None,
        seeds_dir: str | os.PathLike | None = None,
        model: ModelSettings | None = None,
        settings: StackSettings | None = None,
        cluster: ClusterSettings | None = None,
        overwrite: bool = False,
        progress: bool = True) -> BatchReport:
    """Segment every stack into ``out`` and return the report (also ``out/batch-report.json``).

    ``stacks``: paths or globs (or one). Prompts come from ``prompts_dir/<stem>.json``
    (or ``.csv``), else seeds from the label image ``seeds_dir/<stem>.tif``
    (``.tiff``, ``.npy``: one object per label on the range's first frame).
    Stacks reported done whose output exists are skipped unless
    ``overwrite``. A stack that fails is reported and the others go on.
    Raises (one-line ``ValueError`` / ``FileNotFoundError``) only for
    problems with the whole batch: no stacks, a glob matching nothing, an
    unknown model, an unreachable scheduler.
    """
    if isinstance(stacks, (str, os.PathLike)):
        stacks = [stacks]  # one path or glob
    model = model or ModelSettings()
    settings = settings or StackSettings()
    cluster = cluster or ClusterSettings()
    out = Path(out).resolve()
    model.check()
    jobs, missing = make_jobs(expand_stacks(stacks), out, settings.format,
                              prompts_dir=prompts_dir and Path(prompts_dir),
                              seeds_dir=seeds_dir and Path(seeds_dir))
    out.mkdir(parents=True, exist_ok=True)
    report_path = out / REPORT_NAME
    previous = read_entries(report_path)
    entries: dict[str, StackEntry] = {}
    skipped, todo = [], []
    for job in jobs:
        if job.stem in missing:
            entries[job.stem] = _failed(job, missing[job.stem])
        elif not overwrite and is_complete(previous.get(job.stem), Path(job.output)):
            entries[job.stem] = previous[job.stem]
            skipped.append(job.stem)
        else:
            todo.append(job)

    def in_order() -> dict[str, StackEntry]:
        return {job.stem: entries[job.stem] for job in jobs if job.stem in entries}

    def record(stem: str, entry: StackEntry) -> None:
        entries[stem] = entry
        write_report(report_path, {**previous, **in_order()})

    if todo:
        for job in todo:
            remove_partials(Path(job.output))
        _run_jobs(todo, model, settings, cluster, progress, record)
    write_report(report_path, {**previous, **in_order()})
    return BatchReport(in_order(), report_path, tuple(skipped))


def _run_jobs(todo: list[StackJob], model: ModelSettings, settings: StackSettings,
              cluster: ClusterSettings, progress: bool, record) -> None:
    from napari_sam2.batch.progress import BatchProgress
    from napari_sam2.batch.worker import segment_job

    run_id = uuid.uuid4().hex[:8]
    topic = f"napari-sam2-batch-{run_id}"  # this run's progress, apart from other runs'
    with _connect(cluster, model) as client:
        _say(_dashboard(client))
        bar = BatchProgress(len(todo), disable=not progress)
        client.subscribe_topic(topic, bar.handler)
        try:
            futures = {client.submit(segment_job, job, model, settings, topic,
                                     key=f"napari-sam2-{job.stem}-{run_id}", pure=False,
                                     retries=cluster.retries): job for job in todo}
            _collect(client, futures, bar, record)
        finally:
            client.unsubscribe_topic(topic)
            bar.close()
