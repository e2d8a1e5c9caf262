"""Ray Train's synchronisation barrier for a worker group of one, answered where it is called.

Ray Train starts a ``SynchronizationActor`` beside every run's worker group:
the barrier its workers meet at in ``ray.train.report`` (to agree on the
checkpoint's folder name) and in Train's collectives, which the controller
narrows or resets when workers fail. That actor is one more Python process
per trial, importing Ray Train (about 1.1 to 1.5 CPU-s on the 2-core
development machine). A group of one worker has nobody to wait for: rank 0's
data is the answer. There ``OneWorkerBarrier`` stands in for the actor and
answers each call in the process that makes it, as ``ray.get`` expects (an
object ref to the answer). A group of several workers keeps Ray's actor.
"""

from functools import cache
from typing import Any

import ray


def _rank_zero_data(*, world_size: int, data: Any = None, **_call: Any) -> Any:
    if world_size != 1:  # only a group of one is given this barrier (WorkerGroupOfOne)
        raise RuntimeError(f"OneWorkerBarrier was given a group of {world_size} workers")
    return data


def _accepted(*_args: Any, **_kwargs: Any) -> bool:
    return True


def _nothing_waits(*_args: Any, **_kwargs: Any) -> None:
    return None


class _Call:
    """One method of the barrier, called as an actor's is: ``barrier.method.remote(...)``."""

    def __init__(self, answer) -> None:
        self._answer = answer

    def remote(self, *args: Any, **kwargs: Any) -> "ray.ObjectRef":
        return ray.put(self._answer(*args, **kwargs))


class OneWorkerBarrier:
    """The calls Ray Train makes on its ``SynchronizationActor`` (Ray 2.60: worker_group.py, context.py,
    collective_impl.py), for a group of one worker."""

    def __init__(self) -> None:
        self.broadcast_from_rank_zero = _Call(_rank_zero_data)
        self.set_required_ranks = _Call(_accepted)  # the controller narrowing the barrier after a preemption
        self.reset = _Call(_nothing_waits)  # after a worker failure: nobody is at the barrier to release


class _OneWorkerBarrierActor:
    """Where worker_group.py creates the actor: ``SynchronizationActor.options(...).remote(...)``."""

    def options(self, **_options: Any) -> "_OneWorkerBarrierActor":
        return self

    def remote(self, **_settings: Any) -> OneWorkerBarrier:
        return OneWorkerBarrier()


@cache  # one class per process: the trial actor runs one Train run after another
def worker_group_of_one_class() -> type:
    """Ray Train's ``WorkerGroup``, with ``OneWorkerBarrier`` in place of the actor when it has one worker.

    ``_start_impl`` creates the actor inline (as ``SynchronizationActor`` of its module), so the name is
    swapped for the start only; the group's shutdown kills the actor with ``ray.kill``, which takes
    actors only, so there a ``OneWorkerBarrier`` is simply dropped."""
    from ray.train.v2._internal.execution.worker_group import state, worker_group

    _let_shutdown_drop_the_barrier(state)

    class WorkerGroupOfOne(worker_group.WorkerGroup):
        def _start_impl(self, worker_group_state_builder) -> None:
            if self._worker_group_context.num_workers != 1:
                return super()._start_impl(worker_group_state_builder)
            ray_actor = worker_group.SynchronizationActor
            worker_group.SynchronizationActor = _OneWorkerBarrierActor()
            try:
                return super()._start_impl(worker_group_state_builder)
            finally:
                worker_group.SynchronizationActor = ray_actor

    return WorkerGroupOfOne


def _let_shutdown_drop_the_barrier(state) -> None:
    ray_shutdown = state._shutdown_sync_actor

    def shutdown(sync_actor) -> None:
        if not isinstance(sync_actor, OneWorkerBarrier):
            ray_shutdown(sync_actor)

    state._shutdown_sync_actor = shutdown
