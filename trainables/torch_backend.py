"""Ray Train's torch backend, set up from a controller that never imports torch.

Ray's ``TorchConfig`` lives in ``ray.train.torch.config``, which imports torch at
its top. The Train controller unpickles the backend config, so each trial's
controller process spent about 2 CPU-s importing torch it never uses: it only
asks the workers to set up the process group. ``TrialTorchConfig`` is the same
dataclass in a torch-free module, and ``TrialTorchBackend`` runs Ray's own
worker-side steps (``_set_torch_distributed_env_vars``,
``_setup_torch_process_group``, ``_shutdown_torch``) through thin wrappers that
import them on the worker, as ``_TorchBackend.on_start`` does for CPU and GPU
backends (TPU backends are not offered by this project).
"""

import contextlib
import os
import tempfile
import uuid
from dataclasses import dataclass
from typing import Any

import ray
from ray._private.ray_constants import env_integer
from ray.exceptions import GetTimeoutError
from ray.train._internal.utils import get_address_and_port
from ray.train.backend import Backend, BackendConfig
from ray.train.constants import DEFAULT_TORCH_PROCESS_GROUP_SHUTDOWN_TIMEOUT_S, TORCH_PROCESS_GROUP_SHUTDOWN_TIMEOUT_S
from ray.train.v2._internal.util import TrainingFramework


@contextlib.contextmanager
def _cuda_device_set():
    """Ray's ``TorchConfigContextManager``, imported on the worker that runs the training function."""
    from ray.train.torch.config import TorchConfigContextManager

    with TorchConfigContextManager():
        yield


@dataclass
class TrialTorchConfig(BackendConfig):
    """``ray.train.torch.TorchConfig`` with its default ``init_method="env"``; ``backend`` is "gloo" or "nccl"
    (the trial's trainer fills it in from the scaling config, as TorchTrainer does)."""

    backend: str | None = None
    timeout_s: int = 1800

    @property
    def backend_cls(self):
        return TrialTorchBackend

    @property
    def train_func_context(self):
        return _cuda_device_set

    @property
    def framework(self):
        return TrainingFramework.TORCH

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "init_method": "env", "timeout_s": self.timeout_s}


def _set_distributed_env_vars() -> None:
    from ray.train.torch.config import _set_torch_distributed_env_vars

    _set_torch_distributed_env_vars()


def _set_master(addr: str, port: int) -> None:
    os.environ["MASTER_ADDR"] = addr
    os.environ["MASTER_PORT"] = str(port)


def _setup_process_group(**options: Any) -> None:
    from ray.train.torch.config import _setup_torch_process_group

    if options["world_size"] != 1:
        _setup_torch_process_group(**options)
        return
    # One worker needs no network: a file store, not a TCPStore on the port get_address_and_port
    # picked, which another process on the node can take first (EADDRINUSE, seen once in the suite).
    store_file = f"{tempfile.gettempdir()}/torch-store-{uuid.uuid4().hex}"
    try:
        _setup_torch_process_group(**{**options, "init_method": f"file://{store_file}"})
    finally:  # a group of one never reads it again: a trial stopped early, or failed here, leaves none behind
        with contextlib.suppress(FileNotFoundError):
            os.remove(store_file)


def _shutdown(destroy_process_group: bool) -> None:
    from ray.train.torch.config import _shutdown_torch

    _shutdown_torch(destroy_process_group=destroy_process_group)


class TrialTorchBackend(Backend):
    """``_TorchBackend.on_start`` and ``on_shutdown`` for gloo and nccl, run from the controller."""

    share_cuda_visible_devices: bool = True

    def on_start(self, worker_group, backend_config: TrialTorchConfig) -> None:
        gpus = worker_group.get_resources_per_worker().get("GPU", 0)
        backend = backend_config.backend or ("nccl" if gpus > 0 else "gloo")
        master_addr, master_port = worker_group.execute_single(0, get_address_and_port)
        worker_group.execute(_set_master, addr=master_addr, port=master_port)
        worker_group.execute(_set_distributed_env_vars)
        setups = [
            worker_group.execute_single_async(
                rank,
                _setup_process_group,
                backend=backend,
                world_rank=rank,
                world_size=len(worker_group),
                init_method="env://",
                timeout_s=backend_config.timeout_s,
            )
            for rank in range(len(worker_group))
        ]
        ray.get(setups)

    def on_shutdown(self, worker_group, backend_config: TrialTorchConfig) -> None:
        shutdowns = worker_group.execute_async(_shutdown, destroy_process_group=len(worker_group) > 1)
        timeout_s = env_integer(TORCH_PROCESS_GROUP_SHUTDOWN_TIMEOUT_S, DEFAULT_TORCH_PROCESS_GROUP_SHUTDOWN_TIMEOUT_S)
        try:
            ray.get(shutdowns, timeout=timeout_s)
        except GetTimeoutError:
            pass  # as Ray does: a worker that hangs on shutdown must not hang the trial
