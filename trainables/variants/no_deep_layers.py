"""The architecture without its deepest encoder/decoder level."""

from typing import Any

from .base import Variant


class NoDeepLayers(Variant):
    name = "no_deep_layers"

    def architecture_params(self, params: dict[str, Any], depth_key: str, architecture: str) -> dict[str, Any]:
        if params[depth_key] <= 1:
            raise KeyError(f"variant no_deep_layers needs {depth_key} >= 2 for {architecture!r}")
        return {**params, depth_key: params[depth_key] - 1}


VARIANT = NoDeepLayers()
