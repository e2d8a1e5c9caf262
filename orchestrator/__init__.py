"""The driver: the CLI and one subpackage per concern (study, run, results, reports, datasets)."""

__version__ = "0.1.0"
