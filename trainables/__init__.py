"""Code that runs inside a trial: models, data, losses, metrics and the training loop.

Nothing here imports ``orchestrator``: trials run on cluster workers that only
need this package and ``search_spaces``.
"""
