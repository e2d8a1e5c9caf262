"""A cluster of fixed size (the local Ray a study starts for itself): nothing there can autoscale.

Ray Train's scaling policy asks Ray Data's autoscaling coordinator for each
run's resources, so that an autoscaling cluster adds nodes for the workers.
On a cluster that cannot grow, that coordinator is one more actor process per
study (about 1.5 CPU-s on this machine) and a blocking call at each trial's
start, for nothing. The study process marks its own local Ray with this
variable in every process's environment; there the policy asks nobody.
"""

import os
from typing import Any

FIXED_SIZE_CLUSTER_ENV = "ORCHESTRATE_FIXED_SIZE_CLUSTER"


def on_a_fixed_size_cluster() -> bool:
    return os.environ.get(FIXED_SIZE_CLUSTER_ENV) == "1"


def without_autoscaling_requests(scaling_policy: Any) -> Any:
    """Ray Train's scaling policy, less its requests to the autoscaling coordinator (its resource
    request at the controller's start and its periodic renewal; the cancel at shutdown already
    does nothing when no request was made)."""
    scaling_policy.after_controller_start = lambda train_run_context: None
    scaling_policy._maybe_send_resource_request = lambda: None
    return scaling_policy
