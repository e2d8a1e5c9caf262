"""cluster.yaml as Ray's cluster launcher reads it (`ray up` prepares and validates it the same way)."""

import yaml

from tests.conftest import REPO


def _prepared() -> dict:
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(yaml.safe_load((REPO / "cluster.yaml").read_text()))
    validate_config(config)
    return config


def test_cluster_yaml_passes_rays_own_preparation_and_validation():
    config = _prepared()
    assert config["head_node_type"] in config["available_node_types"]
    assert config["available_node_types"][config["head_node_type"]]["max_workers"] == 0


def test_it_has_a_gpu_worker_type_and_keeps_study_drivers_on_the_head():
    types = _prepared()["available_node_types"]
    gpu_types = [name for name, node in types.items() if node["resources"].get("GPU", 0) >= 1]
    assert gpu_types and all(types[name]["max_workers"] > 0 for name in gpu_types)
    assert types["head"]["resources"].get("study_driver", 0) > 0  # what `submit --driver-resource` asks for
    assert not any(node["resources"].get("study_driver") for name, node in types.items() if name != "head")


def test_every_node_installs_the_project_and_starts_ray_from_its_environment():
    config = _prepared()
    assert any("scripts/setup.sh" in command for command in config["setup_commands"])
    start = config["head_start_ray_commands"] + config["worker_start_ray_commands"]
    assert all(".venv/bin/ray start" in command for command in start if "ray start" in command)
