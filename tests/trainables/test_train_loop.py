"""The pieces of the training loop that decide when the rate drops and when a trial stops."""

from types import SimpleNamespace

import torch

from trainables.config import EarlyStopping, LrSchedule
from trainables.direction import Direction
from trainables.models import build_model, count_parameters
from trainables.train_loop import TrialState, checkpoint_payload, make_scheduler, step_schedule, stop_early


def _rates(schedule: LrSchedule, val_losses: list[float], epochs: int = 10) -> list[float]:
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    run = SimpleNamespace(scheduler=make_scheduler(optimizer, schedule, epochs))
    rates = []
    for loss in val_losses:
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        step_schedule(run, loss)
    return rates


def test_plateau_halves_the_rate_after_patience_epochs_without_a_lower_val_loss_down_to_the_floor():
    # 002 §2 (Keras ReduceLROnPlateau): factor 0.5 after `patience` epochs without improvement, floor min_lr.
    rates = _rates(LrSchedule("plateau", 0.5, 2, 3e-4), [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    assert rates == [1e-3, 1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 3e-4, 3e-4]


def test_cosine_anneals_to_the_floor_over_the_epochs_and_none_keeps_the_rate():
    rates = _rates(LrSchedule("cosine", 0.5, 0, 0.0), [1.0] * 5, epochs=4)
    assert rates[0] == 1e-3 and abs(rates[2] - 5e-4) < 1e-9 and rates[4] < 1e-12
    assert _rates(LrSchedule("none", 0.5, 0, 0.0), [1.0, 2.0, 3.0]) == [1e-3] * 3


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    # 003 §5.2: EarlyStopping on val_loss, mode min, patience 15 (here 2).
    rule, state = EarlyStopping("val_loss", Direction.MIN, 2), TrialState()
    decisions = [stop_early(state, {"val_loss": loss}, rule) for loss in [1.0, 0.8, 0.9, 0.7, 0.75, 0.7]]
    assert decisions == [False, False, False, False, False, True]
    assert state.watched_best == 0.7 and state.stopped_early
    assert not stop_early(TrialState(), {"val_loss": 1.0}, None)


def test_a_frozen_encoder_trains_only_its_batch_norm():
    # 003 §5.2.4: encoder weights frozen, the decoder trained; Keras segmentation_models' freeze leaves
    # batch norm trainable (it updates its statistics too).
    model = build_model("smp_unet", "baseline", in_channels=3, num_classes=2, params={"freeze_encoder": True})
    assert count_parameters(model, trainable_only=True) < count_parameters(model)
    before = model.model.encoder.state_dict()["bn1.running_mean"].clone()
    model.train()
    model(torch.randn(2, 3, 64, 64)).sum().backward()
    assert model.model.encoder.conv1.weight.grad is None and model.model.encoder.bn1.weight.grad is not None
    assert any(p.grad is not None for p in model.model.decoder.parameters())
    assert not torch.equal(model.model.encoder.state_dict()["bn1.running_mean"], before)


def test_frozen_encoders_reproduce_the_difference_of_the_published_trainable_counts():
    # 003 Fig. 62: trainable parameters 9,111,303 (ResNet-101) - 9,059,079 (ResNet-50) = 52,224.
    def trainable(encoder):
        params = {"encoder": encoder, "freeze_encoder": True}
        with torch.device("meta"):
            model = build_model("smp_unet", "baseline", in_channels=3, num_classes=4, params=params)
        return count_parameters(model, trainable_only=True)

    assert trainable("resnet101") - trainable("resnet50") == 9_111_303 - 9_059_079


def test_channels_last_puts_the_model_in_nhwc_and_keeps_its_weights():
    from trainables.train_loop import prepared

    model = build_model("unet", "baseline", in_channels=1, num_classes=2, params={"base_channels": 4, "depth": 2})
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    switches = SimpleNamespace(channels_last=True, cudnn_benchmark=False, compile=False)
    trained, core = prepared(model, switches, prepare=lambda module: module)
    conv = next(m for m in core.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and trained is core
    assert all(torch.equal(before[name], tensor) for name, tensor in core.state_dict().items())
    assert not torch.backends.cudnn.benchmark
    images = torch.rand(2, 1, 32, 32).contiguous(memory_format=torch.channels_last)
    assert trained(images).shape == (2, 2, 32, 32)


def test_a_trials_train_run_starts_no_side_actor_it_does_not_need():
    from ray.train import ScalingConfig
    from ray.train.torch import TorchTrainer
    from ray.train.v2._internal.callbacks.datasets import DatasetsCallback
    from ray.train.v2._internal.callbacks.placement_group_callback import PlacementGroupCleanerCallback

    from trainables.torch_backend import TrialTorchConfig
    from trainables.trial import lean_torch_trainer

    def kinds(trainer_class) -> set[type]:
        backend = {} if trainer_class is TorchTrainer else {"torch_config": TrialTorchConfig()}
        trainer = trainer_class(lambda: None, scaling_config=ScalingConfig(num_workers=1), **backend)
        return {type(callback) for callback in trainer._create_default_callbacks()}

    assert DatasetsCallback in kinds(TorchTrainer)  # what Ray would start: its DatasetManager actor
    assert DatasetsCallback not in kinds(lean_torch_trainer()) and len(kinds(lean_torch_trainer())) > 3
    cleaner = PlacementGroupCleanerCallback  # needed only where Tune stops runs mid-way (ASHA)
    assert cleaner in kinds(lean_torch_trainer(stopped_mid_run=True))
    assert cleaner not in kinds(lean_torch_trainer(stopped_mid_run=False))


def test_a_checkpoint_carries_the_optimizer_until_the_trial_is_finished():
    model = torch.nn.Conv2d(1, 2, 3)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 1, 4, 4)).sum().backward()
    optimizer.step()
    schedule = LrSchedule(kind="cosine", factor=0.5, patience=1, min_lr=1e-6)
    run = SimpleNamespace(
        core=model,
        optimizer=optimizer,
        scheduler=make_scheduler(optimizer, schedule, epochs=3),
        config=SimpleNamespace(training=SimpleNamespace(epochs=3)),
    )
    midway = checkpoint_payload(run, TrialState(epoch=2))
    assert midway["optimizer"]["state"] and midway["scheduler"] is not None
    for finished in (TrialState(epoch=3), TrialState(epoch=1, stopped_early=True)):
        payload = checkpoint_payload(run, finished)
        assert payload["optimizer"] is None and payload["scheduler"] is None
        assert set(payload["model"]) == {"weight", "bias"} and payload["state"]["epoch"] == finished.epoch
