import subprocess
import sys

import pytest
import torch
from torch.nn import functional as F

from tests.conftest import REPO
from trainables.heads import OutputHead
from trainables.loss_names import BINARY_LOSSES, LOSSES
from trainables.losses import build_loss, segmentation_loss


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_is_finite_differentiable_and_lower_for_a_better_prediction(name):
    target = torch.randint(0, 2, (2, 8, 8))
    good = torch.stack([(1 - target) * 4.0 - 2, target * 4.0 - 2], dim=1).requires_grad_()
    bad = -good.detach()
    loss = build_loss(name)
    value = loss(good, target)
    value.backward()
    assert torch.isfinite(value) and good.grad.abs().sum() > 0
    assert value < loss(bad, target)


def test_bce_on_two_class_logits_equals_two_class_cross_entropy():
    logits, target = torch.randn(2, 2, 4, 4), torch.randint(0, 2, (2, 4, 4))
    assert torch.allclose(build_loss("bce")(logits, target), F.cross_entropy(logits, target), atol=1e-6)


def test_weighted_sum_and_deep_supervision_wrap_any_loss():
    logits, aux, target = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
    ce, dice = build_loss("ce"), build_loss("dice")
    mixed = build_loss({"ce": 0.3, "dice": 0.7})
    assert torch.allclose(mixed(logits, target), 0.3 * ce(logits, target) + 0.7 * dice(logits, target))
    wrapped = segmentation_loss((logits, aux), target, 0.25, dice)
    assert torch.allclose(wrapped, 0.75 * dice(logits, target) + 0.25 * dice(aux, target))


def test_focal_gamma_is_used_and_unknown_losses_are_rejected():
    logits, target = torch.randn(2, 2, 4, 4), torch.randint(0, 2, (2, 4, 4))
    assert not torch.allclose(
        build_loss("focal", focal_gamma=0.0)(logits, target), build_loss("focal", focal_gamma=3.0)(logits, target)
    )
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        build_loss("hinge")
    with pytest.raises(ValueError, match="needs 2 classes"):
        build_loss("bce")(torch.randn(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))


def test_binary_focal_dice_is_alpha_weighted_focal_plus_dice():
    # 002 [15]: -a (1-p)^g log p on crack pixels, -(1-a) p^g log(1-p) elsewhere (a = 0.25, g = 2), plus 1 - Dice.
    torch.manual_seed(0)
    logits = torch.randn(2, 2, 8, 8)
    target = (torch.rand(2, 8, 8) > 0.7).long()
    p = torch.sigmoid(logits[:, 1] - logits[:, 0])
    t = target.float()
    focal = -(0.25 * (1 - p) ** 2 * torch.log(p) * t + 0.75 * p**2 * torch.log(1 - p) * (1 - t)).mean()
    dice = 1 - 2 * (p * t).sum() / (p.sum() + t.sum())
    expected = focal + dice
    assert torch.isclose(build_loss("binary_focal_dice")(logits, target), expected, atol=1e-5)


@pytest.mark.parametrize("name", BINARY_LOSSES)
def test_binary_losses_train_a_one_channel_sigmoid_head_as_the_same_model_as_two_class_softmax(name):
    # 004 §3.5.1-3.5.2: a 1-channel sigmoid output trained with a binary focal loss.
    target = torch.randint(0, 2, (2, 8, 8))
    logit = torch.randn(2, 1, 8, 8)
    two_class = torch.cat([torch.zeros_like(logit), logit], dim=1)  # softmax of [0, l] is sigmoid(l)
    loss = build_loss(name)
    assert torch.isclose(loss(logit, target), loss(two_class, target))


def test_binary_focal_has_no_class_weight_and_follows_the_focal_formula():
    # 004 §3.5.2 names no alpha: FL(p_t) = -(1 - p_t)^gamma log(p_t), averaged over pixels (004 §2, eq. FocalLoss)
    target = torch.randint(0, 2, (2, 8, 8))
    logit = torch.randn(2, 1, 8, 8)
    p = logit[:, 0].sigmoid()
    p_t = torch.where(target == 1, p, 1 - p)
    expected = (-((1 - p_t) ** 2) * p_t.log()).mean()
    assert torch.isclose(build_loss("binary_focal", focal_gamma=2.0)(logit, target), expected, atol=1e-6)


def test_the_sigmoid_head_gives_two_class_probabilities_and_predicts_at_one_half():
    logits = torch.randn(3, 1, 5, 5)
    head = OutputHead("sigmoid")
    probabilities = head.probabilities(logits)
    assert head.channels(2) == 1 and OutputHead("softmax").channels(2) == 2
    assert probabilities.shape == (3, 2, 5, 5) and torch.allclose(probabilities.sum(1), torch.ones(3, 5, 5))
    assert torch.equal(head.predict(logits), probabilities.argmax(1))
    assert torch.equal(head.predict(logits), (probabilities[:, 1] >= 0.5).long())


def _smp_reference(name: str, gamma: float):
    """The smp loss each name computed with before region_losses.py, applied as it was."""
    from segmentation_models_pytorch import losses as smp

    binary_logit = lambda logits: (logits[:, 1] - logits[:, 0])[:, None]  # noqa: E731
    focal_dice = (smp.FocalLoss("binary", alpha=0.25, gamma=gamma), smp.DiceLoss("binary", from_logits=True))
    return {
        "dice": smp.DiceLoss("multiclass", from_logits=True),
        "jaccard": smp.JaccardLoss("multiclass", from_logits=True),
        "focal": smp.FocalLoss("multiclass", gamma=gamma),
        "binary_focal": lambda logits, target: smp.FocalLoss("binary", alpha=None, gamma=gamma)(
            binary_logit(logits), target[:, None].float()
        ),
        "binary_focal_dice": lambda logits, target: (
            focal_dice[0](binary_logit(logits), target[:, None].float())
            + focal_dice[1](binary_logit(logits), target[:, None])
        ),
    }[name]


@pytest.mark.parametrize("name", ["dice", "jaccard", "focal", "binary_focal", "binary_focal_dice"])
@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_dice_jaccard_and_focal_equal_segmentation_models_pytorchs_in_value_and_gradient(name, gamma):
    generator = torch.Generator().manual_seed(3)
    classes = 2 if name.startswith("binary") else 4
    for scale in (0.1, 3.0, 30.0):  # from uncertain to saturated logits
        logits = (torch.randn(3, classes, 9, 7, generator=generator) * scale).requires_grad_()
        target = torch.randint(0, classes - 1, (3, 9, 7), generator=generator)  # the last class absent
        ours, theirs = build_loss(name, focal_gamma=gamma)(logits, target), _smp_reference(name, gamma)(logits, target)
        (our_grad,) = torch.autograd.grad(ours, logits)
        (their_grad,) = torch.autograd.grad(theirs, logits)
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-7)
        # equal_nan: with gamma < 1, (1 - p_t)^gamma has no derivative where p_t is 1 (saturated), in both
        torch.testing.assert_close(our_grad, their_grad, rtol=1e-4, atol=1e-8, equal_nan=True)


def test_multilabel_dice_equals_segmentation_models_pytorchs():
    from segmentation_models_pytorch import losses as smp

    from trainables.labels import to_channels

    generator = torch.Generator().manual_seed(5)
    logits = torch.randn(2, 4, 8, 8, generator=generator).requires_grad_()
    target = torch.randint(0, 8, (2, 8, 8), generator=generator)  # bit masks: channels 0-2, channel 3 empty
    ours = build_loss("dice", multi_label=True)(logits, target)
    theirs = smp.DiceLoss("multilabel", from_logits=True)(logits, to_channels(target, 4))
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(torch.autograd.grad(ours, logits)[0], torch.autograd.grad(theirs, logits)[0])


def test_no_loss_imports_segmentation_models_pytorch():
    # A trial's fresh worker training an own model pays smp's import (timm, torchvision, torch._dynamo:
    # about 1.9 CPU-s) only when its model is an smp one.
    code = (
        "import sys, torch\n"
        "from trainables.losses import build_loss\n"
        "from trainables.loss_names import LOSSES\n"
        "logits, target = torch.randn(2, 2, 4, 4), torch.randint(0, 2, (2, 4, 4))\n"
        "for name in LOSSES: build_loss(name)(logits, target)\n"
        "build_loss('dice', multi_label=True)(logits, target)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('segmentation_models_pytorch', 'timm')))\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]"
