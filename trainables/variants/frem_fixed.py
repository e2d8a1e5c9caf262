"""FREM enhancing the same B channels in every epoch (an ablation of ``frem``)."""

from .frem import Frem


class FremFixed(Frem):
    name = "frem_fixed"
    fixed = True


VARIANT = FremFixed()
