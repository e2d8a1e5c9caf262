import pytest
import torch

from trainables.heads import OutputHead
from trainables.losses import segmentation_loss
from trainables.models import (
    BatchRenorm2d,
    FeatureRandomEnhancement,
    bottleneck_channels,
    build_model,
    count_parameters,
)
from trainables.models.blocks import AttentionGate
from trainables.models.unet import UNet


def tiny(variant="baseline", hyper=None, **kwargs):
    return build_model(
        "unet",
        variant,
        in_channels=kwargs.pop("in_channels", 1),
        num_classes=kwargs.pop("num_classes", 2),
        params={"base_channels": 4, "depth": 2},
        hyper=hyper,
        seed=3,
    )


@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize("num_classes", [2, 4])
def test_unet_output_shape(in_channels, num_classes):
    model = tiny(in_channels=in_channels, num_classes=num_classes).eval()
    assert model(torch.rand(2, in_channels, 32, 32)).shape == (2, num_classes, 32, 32)


def test_any_image_size_is_padded_to_the_depth_and_cropped_back():
    # 000: crack photos are 386x256; 386 is no multiple of 16. Mirror padding makes every size work.
    model = build_model(
        "unet",
        "deep_supervision",
        in_channels=1,
        num_classes=2,
        params={"base_channels": 4, "depth": 4},
        hyper={"ds_lambda": 0.5},
        seed=3,
    )
    final, aux = model.train()(torch.rand(2, 1, 386 // 2, 256 // 2))
    assert final.shape == aux.shape == (2, 2, 193, 128)
    model.eval()
    assert model(torch.rand(1, 1, 30, 17)).shape == (1, 2, 30, 17)
    assert model(torch.rand(1, 1, 5, 3)).shape == (1, 2, 5, 3)  # smaller than the padding: replicate


def test_frem_is_identity_in_eval_and_scales_exactly_b_channels_in_training():
    frem = FeatureRandomEnhancement(channels=16, b=5, x=250.0, seed=1)
    features = torch.rand(2, 16, 4, 4) + 0.1
    frem.eval()
    assert torch.equal(frem(features), features)
    frem.train()
    out = frem(features)
    changed = [c for c in range(16) if not torch.allclose(out[:, c], features[:, c])]
    assert changed == frem.enhanced_channels and len(changed) == 5
    assert torch.allclose(out[:, changed], features[:, changed] * 250.0)


def test_frem_channels_change_between_epochs_not_within_and_are_seeded():
    frem = FeatureRandomEnhancement(channels=64, b=8, x=2.0, seed=1)
    first = list(frem.enhanced_channels)
    frem(torch.rand(1, 64, 2, 2))
    assert frem.enhanced_channels == first  # a forward pass does not redraw
    frem.set_epoch(1)
    assert frem.enhanced_channels != first
    again = FeatureRandomEnhancement(channels=64, b=8, x=2.0, seed=1)
    again.set_epoch(1)
    assert again.enhanced_channels == frem.enhanced_channels
    fixed = FeatureRandomEnhancement(channels=64, b=8, x=2.0, seed=1, fixed=True)
    before = list(fixed.enhanced_channels)
    fixed.set_epoch(5)
    assert fixed.enhanced_channels == before


@pytest.mark.parametrize("b, x", [(0, 2.0), (17, 2.0), (4, 0.0), (4, -1.0)])
def test_frem_rejects_invalid_parameters(b, x):
    with pytest.raises(ValueError):
        FeatureRandomEnhancement(channels=16, b=b, x=x)


def test_sampled_hyperparameters_reach_the_model():
    model = tiny("frem", {"lr": 1e-3, "frem_b": 7, "frem_x": 123.0})
    assert model.bottleneck_transform.b == 7 and model.bottleneck_transform.x == 123.0
    assert model.bottleneck_transform.channels == bottleneck_channels("unet", {"base_channels": 4, "depth": 2}) == 16


def test_frem_variant_needs_its_hyperparameters():
    with pytest.raises(KeyError, match="frem_b"):
        tiny("frem", {"lr": 1e-3})


def test_deep_supervision_returns_aux_in_training_only_and_lambda_zero_is_plain_loss():
    torch.manual_seed(0)
    model = tiny("deep_supervision", {"lr": 1e-3, "ds_lambda": 0.3})
    images, masks = torch.rand(2, 1, 32, 32), torch.randint(0, 2, (2, 32, 32))
    final, aux = model.train()(images)
    assert final.shape == aux.shape == (2, 2, 32, 32)
    assert torch.allclose(segmentation_loss((final, aux), masks, 0.0), segmentation_loss(final, masks))
    mixed = segmentation_loss((final, aux), masks, 0.3)
    expected = 0.7 * segmentation_loss(final, masks) + 0.3 * segmentation_loss(aux, masks)
    assert torch.allclose(mixed, expected)
    assert isinstance(model.eval()(images), torch.Tensor)


def test_gradients_reach_the_bottleneck_through_frem():
    model = tiny("frem", {"lr": 1e-3, "frem_b": 4, "frem_x": 10.0}).train()
    segmentation_loss(model(torch.rand(2, 1, 32, 32)), torch.randint(0, 2, (2, 32, 32))).backward()
    assert model.bottleneck[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("strategy", ["advanced", "full"])
def test_encoder_outputs_1_to_3_reach_coarser_decoder_levels_only_by_max_pooling(strategy):
    # 000 "Utilization of Skip Connections": the outputs of encoding layers 1-3 are max-pooled and
    # convolved to the depth of each decoding layer; nothing is upsampled into a finer level.
    model = UNet(base_channels=4, depth=4, attention=True, encoder_attention=strategy)
    sources = {decoder.level: decoder.sources for decoder in model.decoder}
    assert sources == {3: [0, 1, 2], 2: [0, 1], 1: [0], 0: []}
    assert all(extra.factor > 1 for decoder in model.decoder for extra in decoder.extras)
    assert model(torch.randn(1, 1, 32, 32)).shape == (1, 2, 32, 32)


def test_the_bottleneck_width_is_settable_and_bounds_frem_b():
    # 001 §4.2: FREM picks B of the 512 feature maps of the SE-U-Net's deepest layer.
    params = {"base_channels": 64, "depth": 4, "bottleneck_width": 512}
    assert bottleneck_channels("se_unet", params) == 512
    assert bottleneck_channels("se_unet", {"base_channels": 64, "depth": 4}) == 1024
    model = build_model(
        "se_unet",
        "frem",
        in_channels=1,
        num_classes=2,
        params={**params, "base_channels": 4},
        hyper={"frem_b": 3, "frem_x": 10.0},
        seed=0,
    )
    assert model.bottleneck_transform.channels == 512
    assert model.eval()(torch.rand(1, 1, 32, 32)).shape == (1, 2, 32, 32)


# 004 §3.5.1: parameters of the three models as published (Keras "Total params": batch norm's running
# statistics included), with the thesis's settings: 3-channel input, upsampling decoder, 1-channel
# sigmoid head; its printed model has a bias on every convolution and a BN after the head.
THESIS_SETTINGS = {"conv_bias": True, "upsample": "nearest", "head_norm": True, "gate": "keras"}
PUBLISHED_PARAMETERS = {"unet": 31_402_501, "attention_unet": 37_334_665, "attention_residual_unet": 39_090_377}


@pytest.mark.parametrize("architecture", PUBLISHED_PARAMETERS)
def test_the_em_thesis_models_have_exactly_the_published_parameter_counts(architecture):
    with torch.device("meta"):  # counts only: no memory for 39 M weights
        model = build_model(
            architecture, "baseline", in_channels=3, num_classes=OutputHead.SIGMOID.channels(2), params=THESIS_SETTINGS
        )
    assert count_parameters(model, norm_statistics=True) == PUBLISHED_PARAMETERS[architecture]


def test_the_attention_gate_strides_x_down_to_g_and_upsamples_the_coefficients():
    # 004 §2.4.5.2: x (64x64) through a strided convolution to g's 32x32; g from the next-lower tier;
    # one coefficient per pixel of x after upsampling; the output has x's shape.
    for style in ("oktay", "keras"):
        gate = AttentionGate(x_channels=8, below_channels=16, style=style)
        x, below = torch.randn(2, 8, 64, 64), torch.randn(2, 16, 32, 32)
        assert gate.theta_x.stride == (2, 2) and gate(x, below).shape == x.shape
        assert gate.theta_x(x).shape[-2:] == gate.phi_g(gate.gating(below)).shape[-2:] == (32, 32)
    assert AttentionGate(8, 16).theta_x.out_channels == 4  # Oktay: half of x's channels


@pytest.mark.parametrize("architecture", ["unet", "attention_unet", "attention_residual_unet"])
def test_the_thesis_models_train_on_odd_sizes(architecture):
    params = {**THESIS_SETTINGS, "base_channels": 4, "depth": 3}
    model = build_model(architecture, "baseline", in_channels=3, num_classes=1, params=params)
    logits = model(torch.randn(2, 3, 30, 44))
    assert logits.shape == (2, 1, 30, 44)
    logits.sum().backward()


def test_batch_renorm_is_batch_norm_when_r_and_d_cannot_move():
    # Ioffe 2017: with r_max = 1 and d_max = 0 batch renormalization is batch normalization, running statistics too.
    torch.manual_seed(0)
    x = torch.randn(4, 3, 5, 5) * 3 + 1
    plain, renorm = torch.nn.BatchNorm2d(3), BatchRenorm2d(3, r_max=1.0, d_max=0.0)
    assert torch.allclose(plain(x), renorm(x), atol=1e-5)
    assert torch.allclose(plain.running_mean, renorm.running_mean) and torch.allclose(
        plain.running_var, renorm.running_var
    )
    plain.eval(), renorm.eval()
    assert torch.allclose(plain(x), renorm(x), atol=1e-5)


def test_batch_renorm_corrects_the_batch_towards_the_running_statistics():
    renorm = BatchRenorm2d(2)  # running mean 0, var 1
    x = (torch.randn(8, 2, 4, 4) * 0.5 + 2).requires_grad_()
    y = renorm(x)
    # r = σ_B / 1 and d = μ_B / 1 (inside the clips): the output is close to x itself, not to a unit normal
    assert torch.allclose(y, x, atol=1e-2)
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("architecture", ["se_unet", "smp_unet"])
def test_norm_batch_renorm_replaces_every_batch_norm(architecture):
    # 001 §3.1 uses batch renormalization; offered on every architecture.
    params = {"norm": "batch_renorm", **({"base_channels": 4, "depth": 2} if architecture != "smp_unet" else {})}
    model = build_model(architecture, "baseline", in_channels=1, num_classes=2, params=params)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(isinstance(m, BatchRenorm2d) for m in norms)
    model(torch.randn(2, 1, 32, 32)).sum().backward()
    with pytest.raises(ValueError, match="norm='layer' must be one of batch, batch_renorm"):
        build_model(architecture, "baseline", in_channels=1, num_classes=2, params={"norm": "layer"})
