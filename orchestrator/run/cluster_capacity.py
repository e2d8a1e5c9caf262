"""Whether a cluster can ever run a study's trials, checked before anything waits.

A trial's worker asks for ``cpus_per_worker`` CPUs and ``gpus_per_worker`` GPUs on one node. If a
node of the cluster has that, the study runs; if none has it now but a node type of the
cluster's autoscaler has (Ray records the autoscaler's node types in the GCS), trials wait for the
autoscaler to add one, and the study says so; if neither, nothing could ever start the trial, and
the study is refused before it is created.
"""

from dataclasses import dataclass
from enum import StrEnum

from orchestrator.errors import UserError
from orchestrator.study.spec import StudySpec

Bundle = dict[str, float]


class Fit(StrEnum):
    NOW = "now"
    AFTER_SCALING = "after scaling"
    NEVER = "never"


@dataclass(frozen=True)
class Capacity:
    fit: Fit
    wants: Bundle
    largest_node: Bundle
    node_types: list[str]  # the autoscaler's node types that hold a worker


def worker_bundle(spec: StudySpec) -> Bundle:
    resources = spec.resources
    bundle = {"CPU": resources.cpus_per_worker}
    if resources.gpus_per_worker:
        bundle["GPU"] = resources.gpus_per_worker  # fractions pack trials: 0.5 runs two to a GPU
    return bundle


def holds(node: dict[str, float], bundle: Bundle) -> bool:
    return all(node.get(kind, 0) >= amount for kind, amount in bundle.items())


def assess(bundle: Bundle, nodes: list[dict[str, float]], node_types: dict[str, dict[str, float]]) -> Capacity:
    """Pure: the verdict from the alive nodes' total resources and the autoscaler's node types."""
    fitting_types = sorted(name for name, resources in node_types.items() if holds(resources, bundle))
    largest = max(nodes, key=lambda node: (node.get("GPU", 0), node.get("CPU", 0)), default={})
    if any(holds(node, bundle) for node in nodes):
        fit = Fit.NOW
    else:
        fit = Fit.AFTER_SCALING if fitting_types else Fit.NEVER
    return Capacity(fit, bundle, {kind: largest.get(kind, 0) for kind in ("CPU", "GPU")}, fitting_types)


def _describe(bundle: Bundle) -> str:
    return ", ".join(f"{amount:g} {kind}" for kind, amount in bundle.items())


def waiting_note(capacity: Capacity) -> str:
    return (
        f"waiting for resources: each trial worker asks for {_describe(capacity.wants)}; no node has that yet, "
        f"the autoscaler can add {', '.join(capacity.node_types)}"
    )


def refuse(capacity: Capacity) -> UserError:
    return UserError(
        f"each trial worker asks for {_describe(capacity.wants)} on one node, but the largest node of this "
        f"cluster has {_describe(capacity.largest_node)} and no autoscaler node type has more; lower "
        "`resources:` (cpus_per_worker, gpus_per_worker) in the spec, or add such a node type to cluster.yaml"
    )


def cluster_capacity(bundle: Bundle) -> Capacity:
    """The verdict for the cluster this process is connected to."""
    import ray
    from ray._private.state import state

    nodes = [dict(node["Resources"]) for node in ray.nodes() if node["Alive"]]
    config = state.get_cluster_config()
    node_types = {}
    for group in config.node_group_configs if config else []:
        if group.max_count != 0:
            node_types[group.name or "node"] = dict(group.resources)
    return assess(bundle, nodes, node_types)


def check_cluster_can_run(spec: StudySpec, address: str) -> None:
    """Connect briefly and refuse a study no node or node type of the cluster could ever run."""
    import logging

    import ray

    if address.startswith("ray://"):
        return  # a Ray Client connection cannot read the GCS's node types; the study's driver checks
    from orchestrator.run.ray_session import send_token_if_there_is_one

    send_token_if_there_is_one()
    try:
        ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR, configure_logging=False)
    except ConnectionError as error:
        raise UserError(f"could not connect to a Ray cluster at {address}: {error}; check --address") from None
    try:
        capacity = cluster_capacity(worker_bundle(spec))
    finally:
        ray.shutdown()
    if capacity.fit is Fit.NEVER:
        raise refuse(capacity)
