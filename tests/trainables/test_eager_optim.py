"""EagerAdam: the same Adam steps as torch's, without importing torch._dynamo (1.3 CPU-s per trial)."""

import subprocess
import sys

import torch

from tests.conftest import REPO
from trainables.eager_optim import EagerAdam


def _trained(adam: type, steps: int = 3) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.Conv2d(3, 2, 1))
    optimizer = adam(model.parameters(), lr=0.01, weight_decay=1e-4)
    for step in range(steps):
        optimizer.zero_grad(set_to_none=True)
        model(torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(step))).square().mean().backward()
        optimizer.step()
    return model, optimizer


def test_eager_adam_takes_torchs_adam_steps_bit_for_bit_and_shares_its_state():
    (eager_model, eager), (torch_model, adam) = _trained(EagerAdam), _trained(torch.optim.Adam)
    for mine, theirs in zip(eager_model.parameters(), torch_model.parameters(), strict=True):
        assert torch.equal(mine, theirs)
    for mine, theirs in zip(eager.state.values(), adam.state.values(), strict=True):
        assert all(torch.equal(mine[key], theirs[key]) for key in ("step", "exp_avg", "exp_avg_sq"))
    resumed = EagerAdam(torch_model.parameters(), lr=0.5)
    resumed.load_state_dict(adam.state_dict())  # a checkpoint written by either loads into the other
    assert resumed.param_groups[0]["lr"] == 0.01 and len(resumed.state) == len(adam.state)


ONE_EPOCH = """
import sys
import torch
from trainables.config import LrSchedule
from trainables.train_loop import make_optimizer, make_scheduler
model = torch.nn.Conv2d(1, 2, 3)
optimizer = make_optimizer(model, {{"lr": 0.01}}, compiled={compiled})
scheduler = make_scheduler(optimizer, LrSchedule("cosine", 0.5, 1, 0.0), epochs=2)
model(torch.rand(2, 1, 8, 8)).mean().backward()
optimizer.step()
optimizer.zero_grad()
scheduler.step()
optimizer.load_state_dict(optimizer.state_dict())
print("torch._dynamo" in sys.modules)
"""


def _loads_dynamo(compiled: bool) -> bool:
    run = subprocess.run(
        [sys.executable, "-c", ONE_EPOCH.format(compiled=compiled)], capture_output=True, text=True, cwd=REPO
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.split()[-1] == "True"


def test_a_trial_that_does_not_compile_trains_without_importing_torch_dynamo():
    assert not _loads_dynamo(compiled=False)
    assert _loads_dynamo(compiled=True)  # torch's Adam, which a compiled model keeps, does import it
