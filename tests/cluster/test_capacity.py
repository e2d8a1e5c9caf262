"""A study no node or node type could run is refused before it exists; one that must wait says why."""

import yaml

from orchestrator.run.cluster_capacity import Fit, assess, refuse, waiting_note
from tests.conftest import orchestrate, tiny_spec

CPU_NODE = {"CPU": 8.0, "memory": 1e10}
GPU_NODE = {"CPU": 8.0, "GPU": 1.0}


def test_a_worker_that_fits_a_node_runs_now():
    assert assess({"CPU": 2}, [CPU_NODE], {}).fit is Fit.NOW
    assert assess({"CPU": 1, "GPU": 0.5}, [GPU_NODE], {}).fit is Fit.NOW  # half a GPU: two trials to one


def test_a_worker_only_an_autoscaler_node_type_holds_waits_for_it():
    capacity = assess({"CPU": 4, "GPU": 1}, [CPU_NODE], {"head": CPU_NODE, "gpu_worker": GPU_NODE})
    assert capacity.fit is Fit.AFTER_SCALING and capacity.node_types == ["gpu_worker"]
    assert waiting_note(capacity).startswith("waiting for resources: each trial worker asks for 4 CPU, 1 GPU")


def test_a_worker_nothing_holds_is_refused_naming_what_it_asks_and_what_there_is():
    capacity = assess({"CPU": 1, "GPU": 2}, [GPU_NODE], {"gpu_worker": GPU_NODE})
    assert capacity.fit is Fit.NEVER
    message = str(refuse(capacity))
    assert "asks for 1 CPU, 2 GPU" in message and "has 8 CPU, 1 GPU" in message and "gpus_per_worker" in message


def test_a_cluster_without_a_gpu_refuses_a_gpu_study_before_its_folder_exists(ray_head, tmp_path):
    spec = tmp_path / "gpu.yaml"
    spec.write_text(
        yaml.safe_dump(tiny_spec("gpu", resources={"workers": 1, "cpus_per_worker": 1, "gpus_per_worker": 1}))
    )
    result = orchestrate("run", spec, "--storage", tmp_path / "runs", "--address", ray_head.gcs, timeout=180)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "asks for 1 CPU, 1 GPU on one node" in lines[0] and "has 2 CPU, 0 GPU" in lines[0]
    assert not (tmp_path / "runs").exists()  # nothing created: fixing the spec and running again just works
