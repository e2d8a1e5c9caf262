import os

from orchestrator.run.ray_session import fixed_size_env
from trainables.fixed_cluster import FIXED_SIZE_CLUSTER_ENV, on_a_fixed_size_cluster


def test_only_a_ray_the_study_starts_itself_is_marked_as_one_that_cannot_grow(monkeypatch):
    monkeypatch.setenv(FIXED_SIZE_CLUSTER_ENV, "0")  # restored (unset) after the test
    cluster = "10.0.0.5:6379"
    assert fixed_size_env(cluster) == {} and fixed_size_env("auto") == {}  # a cluster may autoscale
    assert fixed_size_env(None) == {FIXED_SIZE_CLUSTER_ENV: "1"}  # the study process starts a local Ray
    assert os.environ[FIXED_SIZE_CLUSTER_ENV] == "1" and on_a_fixed_size_cluster()  # its arm drivers inherit it
    assert fixed_size_env(cluster) == {FIXED_SIZE_CLUSTER_ENV: "1"}  # an arm driver joining that Ray passes it on
