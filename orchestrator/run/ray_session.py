"""Starting a local Ray, or connecting to a cluster, with Ray's logs sent to files."""

import logging
import os
import socket
import time
import warnings
from contextlib import contextmanager, nullcontext
from functools import partial
from pathlib import Path

from orchestrator.errors import UserError
from orchestrator.run.ports import free_port
from trainables.fixed_cluster import FIXED_SIZE_CLUSTER_ENV, on_a_fixed_size_cluster
from trainables.inherited_env import STUDY_LOCAL_RAY_ENV

# Environment for every Ray process of the study. Each step of a trial's Train run (workers up,
# training done) waits for the controller's next health check (default every 2 s; 0.5 s -> 0.2 s took
# the run's teardown from 0.9 to 0.4 s, for one cheap poll of each worker every 0.2 s).
RAY_ENV = {
    "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.2",
    # Side actors every trial would start and never needs (each a new Python process).
    "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
    "RAY_TRAIN_METRICS_ENABLED": "0",
    "RAY_TRAIN_V2_ENABLED": "1",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "PYTHONWARNINGS": "ignore::DeprecationWarning,ignore::FutureWarning",
    "PL_DISABLE_FORK": "1",  # what Tune sets for its trial actors (trainables/inherited_env.py)
}
# Driver only: save the Tune experiment state (searcher included) at most every 2 s.
DRIVER_ENV = {"TUNE_GLOBAL_CHECKPOINT_S": "2", "RAY_AIR_NEW_OUTPUT": "0"}
# A Ray started here: no idle workers prestarted for the first driver (the study's process, whose
# only tasks are the final evaluations; each arm is a job of its own and gets workers of its own), two
# Python processes saved. An idle worker lives a minute, not 1 s, while the arms' actors outnumber the
# CPUs: the next arm's evaluation reuses it, torch and the model code loaded (run/evaluations.py).
LOCAL_SYSTEM_CONFIG = {"prestart_worker_first_driver": False, "idle_worker_killing_time_threshold_ms": 60_000}
# The object-store settings pyarrow reads for S3 (endpoint, credentials, region). Where the driver has
# them, every process of the study gets them too: nodes started without them still reach the bucket.
OBJECT_STORE_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_PROFILE",
    "AWS_EC2_METADATA_DISABLED",
)


def object_store_env() -> dict[str, str]:
    return {name: os.environ[name] for name in OBJECT_STORE_ENV if name in os.environ}


DASHBOARD_ENV = "ORCHESTRATE_RAY_DASHBOARD"
LOCAL_TOKEN = Path.home() / ".ray" / "auth_token"  # where `ray start` keeps the token it enables


def send_token_if_there_is_one() -> None:
    """Ray clusters enable token authentication when a token exists (`ray start` makes one); Ray's
    client sends it only when told to (RAY_AUTH_MODE=token), so tell it whenever there is a token."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") or LOCAL_TOKEN.is_file():
        os.environ["RAY_AUTH_MODE"] = "token"
        from ray._raylet import Config

        Config.initialize("")  # Ray reads the mode once, at import: read it again (as Ray's own set-up does)


def check_reachable(address: str) -> None:
    """Fail fast on a ``host:port`` with nothing listening (ray.init would retry for minutes)."""
    if address in ("auto", "local") or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--address {address!r} is not HOST:PORT (e.g. 10.0.0.5:6379), 'auto' or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError:
        raise UserError(
            f"no Ray cluster answers at {address}; start one (`ray up cluster.yaml`) "
            "or leave out --address to run on this machine"
        ) from None


def _send_logs_to(log_file: Path) -> None:
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # ray._private too: ray.init clears the "ray" logger's handlers, so its notices (token auth)
    # would reach the terminal through Python's last-resort handler.
    for name in ("ray", "ray._private", "ray.tune", "ray.train", "ray.data", "optuna", "py.warnings"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
    logging.captureWarnings(True)
    warnings.simplefilter("default")


def _own_address(address: str | None) -> dict[str, str]:
    """``RAY_ADDRESS`` for every process of the study, naming its own cluster.

    Ray Train's placement-group cleaner finds the cluster through Ray's state API, which,
    given no address, looks for running Ray instances and gives up when there are several
    (two studies on one machine): the cleaner dies, and a trial that Tune stops (ASHA)
    leaks its workers' CPUs, so the next trials wait forever. A local start therefore
    gets a GCS port chosen here, and every process is told it.
    """
    if address == "auto" or (address or "").startswith("ray://"):
        return {}  # a cluster of its own, or a client: Ray finds it
    if address:
        return {"RAY_ADDRESS": address}
    from ray._private.services import get_node_ip_address

    port = free_port()
    os.environ["RAY_GCS_SERVER_PORT"] = str(port)  # read by ray.init's local start
    return {"RAY_ADDRESS": f"{get_node_ip_address()}:{port}"}


def fixed_size_env(address: str | None) -> dict[str, str]:
    """The mark of a Ray started here, which cannot grow (trainables/fixed_cluster.py), for every process
    of the study: the arm drivers started from this process inherit it, and pass it to their jobs."""
    if address is None:
        os.environ[FIXED_SIZE_CLUSTER_ENV] = "1"
    return {FIXED_SIZE_CLUSTER_ENV: "1"} if on_a_fixed_size_cluster() else {}


def _study_env_vars(address: str | None) -> dict[str, str]:
    return {**RAY_ENV, **object_store_env(), **_own_address(address), **fixed_size_env(address)}


def _link_session_logs(context, log_dir: Path) -> None:
    """``logs/ray-session`` -> the Ray session's own logs."""
    session_dir = Path(getattr(context, "address_info", {}).get("session_dir", "") or "")
    link = log_dir / "ray-session"
    if session_dir.is_dir():
        if link.is_dir() and not link.is_symlink():
            # A study copied from elsewhere: the link became a folder of that run's logs; keep them.
            link.rename(log_dir / f"ray-session-copied-{int(time.time())}")
        link.unlink(missing_ok=True)
        link.symlink_to(session_dir / "logs")


@contextmanager
def ray_session(address: str | None, log_dir: Path, arm: str | None = None, dashboard: bool = True):
    """Ray for the study's process (``arm=None``), or for one arm's driver process joining the study's Ray.

    ``dashboard``: whether a Ray started here serves its dashboard (about 10 more Python processes)."""
    import ray

    if address:
        check_reachable(address)
        send_token_if_there_is_one()
    log_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(DRIVER_ENV)
    os.environ.update(RAY_ENV)
    import optuna

    optuna.logging.disable_default_handler()
    _send_logs_to(log_dir / (f"driver-{arm}.log" if arm else "driver.log"))
    kept = {name: os.environ.get(name) for name in ("RAY_ADDRESS", STUDY_LOCAL_RAY_ENV)}
    context = _init_ray(address, dashboard)
    if arm is None:
        _link_session_logs(context, log_dir)
    try:
        yield
    finally:
        ray.shutdown()
        _restore(kept)  # a later local start in this process must not take that Ray's address for its own


def _restore(environment: dict[str, str | None]) -> None:
    for name, value in environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _init_ray(address: str | None, dashboard: bool):
    import ray

    env_vars = _study_env_vars(address)
    inherited = _workers_inherit_this_environment(address)
    if inherited:  # before the start: the raylet, and so every worker, inherits them
        os.environ.update(env_vars)
        os.environ[STUDY_LOCAL_RAY_ENV] = env_vars["RAY_ADDRESS"]
    try:
        with nullcontext() if address else _without_log_and_autoscaler_monitors():
            context = ray.init(
                address=address or "local",  # "local": a new Ray, whatever RAY_ADDRESS (set above) names
                runtime_env=None if inherited else {"env_vars": env_vars},
                log_to_driver=False,
                include_dashboard=dashboard,
                dashboard_host="127.0.0.1",
                logging_level=logging.WARNING,
                configure_logging=False,
                **({} if address else {"_system_config": LOCAL_SYSTEM_CONFIG}),
            )
    except ConnectionError as error:
        raise UserError(f"could not connect to a Ray cluster at {address}: {error}; check --address") from None
    return context


def _workers_inherit_this_environment(address: str | None) -> bool:
    """Whether every worker of the Ray joined inherits this process's environment: a Ray started here
    (its raylet is this process's child), or, for an arm's driver, the study's own local Ray. There the
    study's variables go in ``os.environ``, not a runtime env (trainables/inherited_env.py says why)."""
    return address is None or os.environ.get(STUDY_LOCAL_RAY_ENV) == address


@contextmanager
def _without_log_and_autoscaler_monitors():
    """A local Ray without its log monitor (it streams workers' output to drivers, which here take
    none: ``log_to_driver=False``) or its autoscaler monitor (a fixed-size cluster): two Python
    processes per study, about 1.3 CPU-s. ``ray.init`` has no option for either; its local start
    builds its ``RayParams`` here (ray/_private/worker.py), which has both (as ``ray start`` does)."""
    from ray._private import parameter

    ray_params = parameter.RayParams
    parameter.RayParams = partial(ray_params, include_log_monitor=False, no_monitor=True)
    try:
        yield
    finally:
        parameter.RayParams = ray_params


def wants_dashboard(stops_trials_mid_run: bool) -> bool:
    """The local Ray's dashboard serves Ray's state API, which Ray Train's placement-group cleaner needs:
    without it, a trial stopped by Tune (ASHA) leaks its workers' CPUs. Otherwise it is on only when
    asked for (ORCHESTRATE_RAY_DASHBOARD=1), as starting it costs every study a few seconds."""
    return stops_trials_mid_run or os.environ.get(DASHBOARD_ENV) == "1"


def study_ray_address(address: str | None) -> str:
    """The address an arm's driver process joins: the study's own cluster (a client address as given)."""
    import ray

    if address and address.startswith("ray://"):
        return address
    return ray.get_runtime_context().gcs_address
