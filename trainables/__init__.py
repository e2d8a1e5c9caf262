"""Code that runs inside a trial: the typed trial configuration, models and variants, data, losses, metrics,
the training loop and the evaluation of a checkpoint.

Nothing here imports ``orchestrator``: trials run on cluster workers that only
need this package and ``search_spaces``.
"""
