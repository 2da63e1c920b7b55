"""What runs on a worker: a model cache (a dask worker plugin) and the task of one stack.

The model is loaded once per worker, by the first stack that asks for it,
and kept by :class:`ModelCache`, which dask attaches to every worker of
the cluster (workers that join or are restarted later included). A stack's
task never raises for a problem with that stack: it returns a failed
:class:`StackEntry`, so bad input is reported once and not retried. Only a
worker that dies makes dask run the stack again elsewhere.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from napari_sam2.batch.jobs import StackJob, read_seeds
from napari_sam2.batch.options import ModelSettings, StackSettings
from napari_sam2.batch.report import DONE, FAILED, StackEntry, write_atomically

__all__ = ["PLUGIN_NAME", "ModelCache", "cache_settings", "ensure_cache", "segment_job",
           "worker_device"]

PLUGIN_NAME = "napari-sam2-models"
# Frame progress is sent to the client at most this often per stack (events go
# through the scheduler; one per frame would be thousands a minute on a GPU).
EVENT_INTERVAL_S = 0.25


def worker_device(device: str, worker_name: object) -> str | None:
    """A GPU of its own for each worker of a one-machine cluster with several GPUs.

    LocalCluster names its workers 0, 1, ...: worker i takes ``cuda:i``
    (modulo the GPUs present). Elsewhere (one GPU, the CPU, a SLURM job
    that was given its GPU) the user's choice stands: None.
    """
    if device not in ("auto", "cuda"):
        return None
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count > 1 and str(worker_name).isdigit():
        return f"cuda:{int(worker_name) % count}"
    return None


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))  # what a SLURM job or taskset allows
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class ModelCache(WorkerPlugin):
    """Per worker: torch's thread count, and the one model loaded (by its settings)."""

    name = PLUGIN_NAME

    def __init__(self, torch_threads: int | None = None) -> None:
        self.torch_threads = torch_threads

    def setup(self, worker) -> None:
        # Built here, not in __init__: the plugin is pickled to every worker,
        # and a lock cannot be.
        self._models: dict[ModelSettings, object] = {}
        self._lock = threading.Lock()
        # One stack at a time per worker, whatever its thread count: stacks share
        # the model and its device, and two at once would only contend for them.
        self.one_stack = threading.Lock()
        self._worker_name = worker.name
        # dask's nanny starts workers with OMP_NUM_THREADS=1, which torch would
        # follow: give it a count (by default the cores this process may use).
        import torch

        torch.set_num_threads(self.torch_threads or _usable_cores())

    def teardown(self, worker) -> None:
        self._models.clear()

    def model(self, settings: ModelSettings):
        """The model for ``settings``, loading it on first use (one model held at a time)."""
        with self._lock:
            if settings not in self._models:
                self._models.clear()  # free the previous model (and its GPU memory) first
                device = worker_device(settings.device, self._worker_name)
                self._models[settings] = settings.load(device=device)
            return self._models[settings]


def cache_settings(dask_worker) -> list:
    """For ``Client.run``: ``[torch_threads]`` of this worker's model cache, ``[]`` if none."""
    cache = dask_worker.plugins.get(PLUGIN_NAME)
    return [cache.torch_threads] if isinstance(cache, ModelCache) else []


def ensure_cache(client, torch_threads: int | None) -> None:
    """Give every worker a :class:`ModelCache`, keeping caches already there.

    Registering replaces a plugin (and so drops its loaded model): a second
    batch on the same cluster with the same threads reuses the models the
    first one loaded. Workers that join later get the plugin from the scheduler.
    """
    present = client.run(cache_settings)
    if not present or any(v != [torch_threads] for v in present.values()):
        client.register_plugin(ModelCache(torch_threads))


def _one_line(err: BaseException) -> str:
    from napari_sam2.checkpoints.errors import CheckpointError

    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if isinstance(err, (ValueError, FileNotFoundError, CheckpointError)) and text:
        return text  # the project's own one-line messages
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


class _Events:
    """``progress(done, total)`` -> throttled events on the run's topic."""

    def __init__(self, worker, topic: str | None, stem: str) -> None:
        self.worker, self.topic, self.stem, self.last = worker, topic, stem, 0.0
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        self.done = done
        now = time.monotonic()
        if self.topic and (done in (0, total) or now - self.last >= EVENT_INTERVAL_S):
            self.last = now
            self.worker.log_event(self.topic, {"stem": self.stem, "done": done, "total": total})


def _write(labels, target: Path, fmt: str) -> None:
    from napari_sam2.export import write_ctc, write_label_stack

    # The same writers as `napari-sam2 segment`, under a temporary name.
    if fmt == "ctc":
        write_atomically(target, lambda tmp: write_ctc(tmp, labels))
    else:
        write_atomically(target, lambda tmp: write_label_stack(tmp, labels))


def _segment(job: StackJob, cache: ModelCache, model_settings: ModelSettings,
             settings: StackSettings, progress: _Events) -> int:
    """Segment and write one stack; the number of objects."""
    from napari_sam2.engine import runner  # looked up at call time: tests inject faults there
    from napari_sam2.engine.frames import open_frames
    from napari_sam2.engine.prompt_file import read_prompts

    if not Path(job.stack).exists():
        raise FileNotFoundError(f"stack not found: {job.stack}")
    records = read_prompts(job.prompts) if job.prompts else []
    masks = read_seeds(job.seeds) if job.seeds else {}
    frames = open_frames(job.stack, frame_axis=settings.frame_axis, channel=settings.channel,
                         channel_axis=settings.channel_axis)
    runner.check_inputs(frames, records, settings.segment)  # bad input: before the model
    model = cache.model(model_settings)
    target = Path(job.output)
    with tempfile.TemporaryDirectory(prefix=".napari-sam2-", dir=target.parent) as tmp:
        labels = runner.segment_stack(model, frames, records, settings.segment, masks=masks,
                                      workdir=tmp, progress=progress)
        _write(labels, target, settings.format)
        del labels  # release the memory map before its folder goes
    return len({r.obj_id for r in records} | set(masks))


def segment_job(job: StackJob, model_settings: ModelSettings, settings: StackSettings,
                topic: str | None = None) -> StackEntry:
    """The task of one stack, run on a worker: its report entry, failed or done."""
    worker = get_worker()
    start = time.perf_counter()
    progress = _Events(worker, topic, job.stem)
    entry = {"stack": job.stack, "output": job.output, "worker": str(worker.address)}
    try:
        cache = worker.plugins.get(PLUGIN_NAME)
        if not isinstance(cache, ModelCache):
            raise RuntimeError("this worker has no napari-sam2 model cache (register ModelCache)")
        with cache.one_stack:
            start = time.perf_counter()  # the stack's own time, not its wait for the lock
            objects = _segment(job, cache, model_settings, settings, progress)
    except Exception as err:  # noqa: BLE001 - any failure of one stack is that stack's report
        return StackEntry(**entry, status=FAILED, frames=progress.done,
                          seconds=round(time.perf_counter() - start, 3), error=_one_line(err))
    return StackEntry(**entry, status=DONE, frames=progress.done, objects=objects,
                      seconds=round(time.perf_counter() - start, 3))
