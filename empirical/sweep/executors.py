"""Where sweep runs execute: one factory returning a ``concurrent.futures.Executor`` for every back end.

``make_executor(kind, **opts)`` with ``kind`` one of

- ``"local"``: in-process, one run after another (:class:`InlineExecutor`; the reference path);
- ``"process"``: ``ProcessPoolExecutor`` (spawn context, one torch thread per worker);
- ``"submitit-local"``: submitit's local cluster (``AutoExecutor(folder, cluster="local")``): every run is a
  real subprocess job with pickled inputs/outputs in ``folder``, exactly as on SLURM but on this machine;
- ``"slurm"``: submitit on SLURM (``partition``, ``time_min``, ``gpus``, ``cpus``, ``mem_gb``, ``account``,
  ``qos``, ``constraint``, ``array_parallelism``);
- ``"ray"``: Ray tasks (``ray.remote(fn).remote(...).future()``); needs ``pip install ray`` (optional).

Every kind returns an object with ``submit(fn, *args, **kwargs) -> concurrent.futures.Future``, ``map`` and
``shutdown`` (context manager too), so ``concurrent.futures.as_completed`` / ``wait`` work unchanged. No
scheduling is done here beyond what the engines do: submitit jobs are watched by one polling thread that
resolves their futures; for ``submitit-local`` at most ``max_workers`` jobs run at once (submitit's local
cluster itself starts every submitted job immediately).

Jobs that write results should go through :func:`empirical.cache.locking.run_once` so that several sweeps (or
jobs) sharing a store compute each key once.

CLI wiring: :func:`add_executor_arguments` adds ``--executor`` and the SLURM options to a parser,
:func:`executor_from_args` builds the executor (None for the default, meaning "let the sweep decide").
"""
from __future__ import annotations

import collections
import concurrent.futures as cf
import os
import tempfile
import threading
from pathlib import Path

KINDS = ("local", "process", "submitit-local", "slurm", "ray")


# ------------------------------------------------------------------------------------------------ helpers

def _single_thread() -> None:
    """Worker initializer: one BLAS/torch thread per process (many processes share the cores)."""
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass


def call_with_threads(threads: int | None, fn, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` after setting torch's intra-op threads to ``threads`` (None: unchanged).
    Module level so that it pickles; used to pin the thread count inside submitit/Ray jobs."""
    if threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        import torch
        torch.set_num_threads(int(threads))
    return fn(*args, **kwargs)


class InlineExecutor(cf.Executor):
    """Runs each submitted call at once in the calling thread and returns a finished future."""

    def __init__(self):
        self._shutdown = False

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        if self._shutdown:
            raise RuntimeError("cannot submit after shutdown")
        fut: cf.Future = cf.Future()
        fut.set_running_or_notify_cancel()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future, like a pool
            fut.set_exception(exc)
        return fut

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shutdown = True


class SubmititExecutor(cf.Executor):
    """A ``concurrent.futures.Executor`` over a ``submitit`` executor (SLURM or its local cluster).

    ``submit`` returns a real :class:`concurrent.futures.Future`; a daemon thread polls the submitted jobs
    every ``poll_s`` seconds and resolves each future with ``job.result()`` (or its exception: a job that
    raised gives ``submitit.core.utils.FailedJobError`` carrying the remote traceback). ``max_in_flight``
    (None: unlimited) holds further submissions back until a running job finishes. ``shutdown
    (cancel_futures=True)`` cancels queued submissions and running jobs.
    """

    def __init__(self, inner, max_in_flight: int | None = None, poll_s: float = 0.2, threads: int | None = None):
        self.inner = inner
        self.folder = Path(getattr(inner, "folder", "."))
        self.max_in_flight = max_in_flight
        self.poll_s = poll_s
        self.threads = threads
        self._queue: collections.deque = collections.deque()  # (future, fn, args, kwargs) not yet submitted
        self._running: list = []  # (future, job)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="submitit-poller", daemon=True)
        self._thread.start()

    # -------------------------------------------------------------------- Executor API
    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        if self._closed:
            raise RuntimeError("cannot submit after shutdown")
        fut: cf.Future = cf.Future()
        with self._lock:
            self._queue.append((fut, fn, args, kwargs))
        self._wake.set()
        return fut

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        if cancel_futures:
            with self._lock:
                queued, self._queue = list(self._queue), collections.deque()
                running = list(self._running)
            for fut, *_ in queued:
                fut.cancel()
            for fut, job in running:
                try:
                    job.cancel(check=False)
                except Exception:  # noqa: BLE001 - best effort
                    pass
        self._wake.set()
        if wait:
            self._thread.join()

    # -------------------------------------------------------------------- internals
    def _launch(self, fut, fn, args, kwargs) -> None:
        if not fut.set_running_or_notify_cancel():
            return
        try:
            job = self.inner.submit(call_with_threads, self.threads, fn, *args, **kwargs)
        except BaseException as exc:  # noqa: BLE001
            fut.set_exception(exc)
            return
        fut.job = job  # for users who want job ids / log paths
        self._running.append((fut, job))

    def _loop(self) -> None:
        while True:
            with self._lock:
                while self._queue and (self.max_in_flight is None or len(self._running) < self.max_in_flight):
                    self._launch(*self._queue.popleft())
                still = []
                finished = []
                for fut, job in self._running:
                    (finished if job.done() else still).append((fut, job))
                self._running = still
                idle = not self._queue and not self._running
            for fut, job in finished:
                try:
                    fut.set_result(job.result())
                except BaseException as exc:  # noqa: BLE001
                    fut.set_exception(exc)
            if finished:
                continue
            if self._closed and idle:
                return
            self._wake.wait(self.poll_s)
            self._wake.clear()


class RayExecutor(cf.Executor):
    """Ray tasks as futures: ``ray.remote(**resources)(fn).remote(*args).future()`` is already a
    ``concurrent.futures.Future``. ``address`` None starts a local Ray; "auto" joins a running cluster."""

    def __init__(self, address: str | None = None, num_cpus: float = 1, num_gpus: float = 0,
                 threads: int | None = 1):
        import ray  # optional dependency: pip install ray

        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        self._ray = ray
        self._remote = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus)(call_with_threads)
        self.threads = threads
        self._futures: list = []

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        fut = self._remote.remote(self.threads, fn, *args, **kwargs).future()
        self._futures.append(fut)
        return fut

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            for f in self._futures:
                f.cancel()
        if wait:
            cf.wait(self._futures)


# ------------------------------------------------------------------------------------------------ factory

def make_executor(kind: str = "process", **opts) -> cf.Executor:
    """An Executor of the given ``kind`` (see the module docstring). Options by kind:

    - ``process``: ``max_workers`` (default ``os.cpu_count()``);
    - ``submitit-local``: ``folder`` (job files; default a fresh temp dir), ``max_workers`` (jobs at once,
      default ``os.cpu_count()``), ``time_min`` (60), ``threads`` (torch threads per job, default 1);
    - ``slurm``: ``folder`` (default ``./submitit``; must be on a filesystem the nodes share),
      ``partition``, ``time_min`` (60), ``gpus`` (per job, 0), ``cpus`` (per job, 1), ``mem_gb``,
      ``account``, ``qos``, ``constraint``, ``array_parallelism``, ``max_workers`` (None = let SLURM queue),
      ``threads`` (default ``cpus``), ``extra`` (dict passed to ``update_parameters``);
    - ``ray``: ``address``, ``cpus`` (1), ``gpus`` (0), ``threads`` (1).
    Unknown kinds or options raise ``ValueError``.
    """
    known = {
        "local": set(),
        "process": {"max_workers"},
        "submitit-local": {"folder", "max_workers", "time_min", "threads", "poll_s"},
        "slurm": {"folder", "partition", "time_min", "gpus", "cpus", "mem_gb", "account", "qos", "constraint",
                  "array_parallelism", "max_workers", "threads", "extra", "poll_s"},
        "ray": {"address", "cpus", "gpus", "threads"},
    }
    if kind not in known:
        raise ValueError(f"unknown executor {kind!r} (expected one of {', '.join(KINDS)})")
    opts = {k: v for k, v in opts.items() if v is not None}
    bad = sorted(set(opts) - known[kind])
    if bad:
        raise ValueError(f"executor {kind!r} takes no option(s) {', '.join(bad)}")

    if kind == "local":
        return InlineExecutor()
    if kind == "process":
        import multiprocessing as mp
        return cf.ProcessPoolExecutor(max_workers=opts.get("max_workers"), mp_context=mp.get_context("spawn"),
                                      initializer=_single_thread)
    if kind == "ray":
        return RayExecutor(address=opts.get("address"), num_cpus=opts.get("cpus", 1), num_gpus=opts.get("gpus", 0),
                           threads=opts.get("threads", 1))

    import submitit  # optional dependency: pip install "lrkd[cluster]"

    if kind == "submitit-local":
        folder = opts.get("folder") or tempfile.mkdtemp(prefix="lrkd-submitit-")
        inner = submitit.AutoExecutor(folder=folder, cluster="local")
        inner.update_parameters(timeout_min=int(opts.get("time_min", 60)), gpus_per_node=0)
        return SubmititExecutor(inner, max_in_flight=opts.get("max_workers", os.cpu_count() or 1),
                                poll_s=opts.get("poll_s", 0.2), threads=opts.get("threads", 1))

    # slurm
    try:
        inner = submitit.AutoExecutor(folder=opts.get("folder") or "submitit", cluster="slurm")
    except RuntimeError as exc:  # submitit: 'Could not detect "srun", are you indeed on a slurm cluster?'
        raise RuntimeError(f"--executor slurm needs a SLURM cluster: {exc}") from None
    inner.update_parameters(**slurm_parameters(**opts))
    return SubmititExecutor(inner, max_in_flight=opts.get("max_workers"), poll_s=opts.get("poll_s", 5.0),
                            threads=opts.get("threads", int(opts.get("cpus", 1))))


def slurm_parameters(**opts) -> dict:
    """Our SLURM options -> ``submitit.AutoExecutor.update_parameters`` keywords (one node, one task per job)."""
    params = {"timeout_min": int(opts.get("time_min", 60)), "gpus_per_node": int(opts.get("gpus", 0)),
              "cpus_per_task": int(opts.get("cpus", 1)), "tasks_per_node": 1, "nodes": 1}
    if opts.get("mem_gb") is not None:
        params["mem_gb"] = float(opts["mem_gb"])
    for ours, theirs in (("partition", "slurm_partition"), ("account", "slurm_account"), ("qos", "slurm_qos"),
                         ("constraint", "slurm_constraint"), ("array_parallelism", "slurm_array_parallelism")):
        if opts.get(ours) is not None:
            params[theirs] = opts[ours]
    params.update(opts.get("extra") or {})
    return params


# ------------------------------------------------------------------------------------------------ CLI

def add_executor_arguments(parser) -> None:
    """Add ``--executor`` and its options to an argparse parser (one argument group)."""
    from bounds.cliutil import positive_int

    g = parser.add_argument_group("execution (where runs go)")
    g.add_argument("--executor", choices=KINDS, default=None,
                   help="local: in-process; process: local process pool (default when --workers > 1); "
                        "submitit-local: subprocess jobs via submitit; slurm: SLURM via submitit; ray: Ray tasks")
    g.add_argument("--executor-folder", default=None, metavar="DIR",
                   help="submitit job folder (logs, pickles); default ./submitit for slurm, a temp dir locally")
    g.add_argument("--partition", default=None, help="SLURM partition")
    g.add_argument("--time-min", type=positive_int, default=None, help="SLURM time limit per job, minutes (60)")
    g.add_argument("--gpus", type=int, default=None, metavar="N", help="GPUs per SLURM job / Ray task (0)")
    g.add_argument("--cpus", type=positive_int, default=None, metavar="N", help="CPUs per SLURM job / Ray task (1)")
    g.add_argument("--mem-gb", type=float, default=None, help="memory per SLURM job, GB")
    g.add_argument("--account", default=None, help="SLURM account")
    g.add_argument("--qos", default=None, help="SLURM QOS")
    g.add_argument("--ray-address", default=None, help="Ray cluster address ('auto' joins a running one)")


def executor_from_args(args, workers: int | None = None) -> cf.Executor | None:
    """The executor the parsed ``args`` ask for, or None when ``--executor`` was not given (the caller's
    default, e.g. the sweep's own process pool). ``workers`` caps local parallelism. Bad combinations raise
    :class:`bounds.cliutil.UsageError` (one line)."""
    from bounds.errors import UsageError

    kind = getattr(args, "executor", None)
    slurm_only = {"partition": "--partition", "account": "--account", "qos": "--qos", "mem_gb": "--mem-gb"}
    if kind != "slurm":
        given = [flag for name, flag in slurm_only.items() if getattr(args, name, None) is not None]
        if getattr(args, "time_min", None) is not None and kind != "submitit-local":
            given.append("--time-min")
        if given:
            raise UsageError(f"{', '.join(given)} only apply to --executor slurm")
    if getattr(args, "gpus", None) is not None and args.gpus < 0:
        raise UsageError(f"--gpus must be >= 0, got {args.gpus}")
    if kind is None:
        return None
    try:
        if kind == "local":
            return make_executor("local")
        if kind == "process":
            return make_executor("process", max_workers=workers)
        if kind == "submitit-local":
            return make_executor("submitit-local", folder=args.executor_folder, max_workers=workers,
                                 time_min=args.time_min)
        if kind == "slurm":
            return make_executor("slurm", folder=args.executor_folder, partition=args.partition,
                                 time_min=args.time_min, gpus=args.gpus, cpus=args.cpus, mem_gb=args.mem_gb,
                                 account=args.account, qos=args.qos, max_workers=workers)
        return make_executor("ray", address=args.ray_address, cpus=args.cpus, gpus=args.gpus)
    except ImportError as exc:
        extra = "ray (pip install ray)" if kind == "ray" else 'submitit (pip install "lrkd[cluster]")'
        raise UsageError(f"--executor {kind} needs {extra}: {exc}") from None
    except RuntimeError as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
