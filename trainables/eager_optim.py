"""Adam without torch._dynamo, for a trial that does not ``torch.compile``.

torch.optim imports torch._dynamo (about 1.3 CPU-s here, on every trial's critical
path: each trial's worker is a new process) the first time an optimizer runs, only
to keep a compiler tracing through it right: ``Optimizer.step`` is wrapped by
``_use_grad_for_differentiable``, which imports it to place graph breaks around the
update, and four methods (``add_param_group``, which every constructor calls,
``zero_grad``, ``state_dict``, ``load_state_dict``) by ``torch._disable_dynamo``,
which imports it on first call. In eager mode a graph break does nothing and
``torch._dynamo.disable(fn)`` calls ``fn`` as it is, so ``EagerAdam`` is Adam with
the same update, the same state and the same state dict, run without them.
"""

import sys

import torch

WRAPPED_METHODS = ("add_param_group", "zero_grad", "state_dict", "load_state_dict")
ADAM_UPDATE = torch.optim.Adam.step.__wrapped__  # Adam's own step, under the grad-mode wrapper


class EagerAdam(torch.optim.Adam):
    """``torch.optim.Adam`` for eager training: bit-for-bit the same steps (tests/trainables/test_eager_optim.py)."""

    def __init__(self, params, **options) -> None:
        skip_dynamo_in_optimizer_methods()
        super().__init__(params, **options)

    def step(self, closure=None):
        # _use_grad_for_differentiable sets grad mode to `differentiable` (False here) around the update.
        with torch.no_grad():
            return ADAM_UPDATE(self, closure)


def skip_dynamo_in_optimizer_methods() -> None:
    """Mark the ``torch._disable_dynamo`` methods as already disabled (their wrapper's own cache,
    the ``__dynamo_disable`` attribute it looks for, filled with the method itself); a no-op once
    torch._dynamo is loaded, when torch's own wrappers cost nothing more."""
    if "torch._dynamo" in sys.modules:
        return
    for name in WRAPPED_METHODS:
        function = getattr(getattr(torch.optim.Optimizer, name), "__wrapped__", None)
        if function is not None and not hasattr(function, "__dynamo_disable"):
            setattr(function, "__dynamo_disable", function)
