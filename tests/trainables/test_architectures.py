"""A shared contract every registered architecture is tested against, on tiny inputs."""

import pytest
import torch

from orchestrator.errors import UserError
from orchestrator.study.checks import validate_study
from orchestrator.study.spec import parse_spec
from tests.conftest import tiny_spec
from trainables.losses import segmentation_loss
from trainables.models import (
    ARCHITECTURES,
    FeatureRandomEnhancement,
    bottleneck_channels,
    build_model,
    count_parameters,
)

HYPER = {"lr": 1e-3, "frem_b": 3, "frem_x": 50.0, "ds_lambda": 0.3, "dropout_p": 0.2}


class ModelContract:
    architecture: str
    params: dict
    size = 32

    def build(self, variant="baseline", in_channels=1, num_classes=2):
        return build_model(
            self.architecture,
            variant,
            in_channels=in_channels,
            num_classes=num_classes,
            params=self.params,
            hyper=HYPER,
            seed=1,
        )

    @pytest.mark.parametrize("in_channels", [1, 3])
    @pytest.mark.parametrize("num_classes", [2, 4])
    def test_output_shape(self, in_channels, num_classes):
        model = self.build(in_channels=in_channels, num_classes=num_classes).eval()
        assert model(torch.rand(2, in_channels, self.size, self.size)).shape == (2, num_classes, self.size, self.size)

    def test_any_size_is_padded_and_cropped_back(self):
        # 000 trains on 386x256 crack photos: sides that are no multiple of 2**depth must work.
        height, width = self.size - 3, self.size + 5
        assert self.build().eval()(torch.rand(1, 1, height, width)).shape == (1, 2, height, width)

    @pytest.mark.parametrize("variant", ["frem", "deep_supervision", "dropout", "no_deep_layers"])
    def test_variants_train_and_gradients_reach_the_bottleneck(self, variant):
        torch.manual_seed(0)
        model = self.build(variant).train()
        output = model(torch.rand(2, 1, self.size, self.size))
        assert isinstance(output, tuple) == (variant == "deep_supervision")
        segmentation_loss(output, torch.randint(0, 2, (2, self.size, self.size)), HYPER["ds_lambda"]).backward()
        bottleneck_grads = [
            p.grad for n, p in model.named_parameters() if self.bottleneck_name in n and p.grad is not None
        ]
        assert bottleneck_grads and any(g.abs().sum() > 0 for g in bottleneck_grads)
        assert model.eval()(torch.rand(1, 1, self.size, self.size)).shape[1] == 2

    def test_frem_sits_on_the_bottleneck(self):
        model = self.build("frem")
        assert isinstance(model.bottleneck_transform, FeatureRandomEnhancement)
        assert model.bottleneck_transform.channels == bottleneck_channels(self.architecture, self.params)

    def test_no_deep_layers_removes_a_level(self):
        assert count_parameters(self.build("no_deep_layers")) < count_parameters(self.build())


class TestUNet(ModelContract):
    architecture, params, bottleneck_name = "unet", {"base_channels": 4, "depth": 3}, "bottleneck."


class TestAttentionUNet(ModelContract):
    architecture, params, bottleneck_name = "attention_unet", {"base_channels": 4, "depth": 3}, "bottleneck."


class TestAdvancedAttentionUNet(ModelContract):
    architecture, params, bottleneck_name = "advanced_attention_unet", {"base_channels": 4, "depth": 3}, "bottleneck."


class TestFullAttentionUNet(ModelContract):
    architecture, params, bottleneck_name = "full_attention_unet", {"base_channels": 4, "depth": 3}, "bottleneck."


class TestSEUNet(ModelContract):
    architecture, params, bottleneck_name = "se_unet", {"base_channels": 4, "depth": 3}, "bottleneck."


class TestAttentionResidualUNet(ModelContract):
    architecture, params, bottleneck_name = "attention_residual_unet", {"base_channels": 4, "depth": 3}, "bottleneck."


class TestSmpUNet(ModelContract):
    # builds offline: encoder_weights is always None
    architecture, params, bottleneck_name = "smp_unet", {"encoder": "resnet18", "encoder_depth": 3}, "encoder."


def test_every_architecture_is_covered_by_the_contract():
    tested = {cls.architecture for cls in ModelContract.__subclasses__()}
    assert tested == set(ARCHITECTURES)


def test_smp_efficientnet_builds_offline():
    model = build_model("smp_unet", "baseline", in_channels=3, num_classes=2, params={"encoder": "efficientnet-b0"})
    assert model.eval()(torch.rand(1, 3, 32, 32)).shape == (1, 2, 32, 32)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            {"architectures": [{"name": "smp_unet", "params": {"encoder": "resnet9000"}}]},
            "unknown smp encoder 'resnet9000'",
        ),
        (
            {"architectures": [{"name": "unet", "params": {"depth": 1}}], "variants": ["no_deep_layers"]},
            "needs depth >= 2",
        ),
    ],
)
def test_invalid_architecture_parameters_fail_validation(overrides, message):
    with pytest.raises(UserError, match=message):
        validate_study(parse_spec(tiny_spec(**overrides), "spec"))


@pytest.mark.parametrize(
    "variant, space, message",
    [
        ("frem", "tests.search_spaces.examples.frem_b_too_wide", r"frem_b in \[1, 17\], outside the allowed \[1, 16\]"),
        (
            "frem",
            "tests.search_spaces.examples.frem_x_nonpositive",
            r"frem_x in \[0.0, 10.0\], outside the allowed \(0.0, inf\]",
        ),
        (
            "deep_supervision",
            "tests.search_spaces.examples.lambda_above_one",
            r"ds_lambda in \[0.0, 1.5\], outside the allowed \[0.0, 1.0\]",
        ),
        ("baseline", "tests.search_spaces.examples.undeclared", "suggests batch_size without declaring it"),
    ],
)
def test_search_ranges_the_model_cannot_take_fail_validation(variant, space, message):
    spec = tiny_spec(variants=[{"name": variant, "search_space": space}])  # unet, base 4, depth 2: 16 channels
    with pytest.raises(UserError, match=message):
        validate_study(parse_spec(spec, "spec"))


def test_smp_unet_loads_a_local_encoder_weights_file(tmp_path):
    source = build_model(
        "smp_unet", "baseline", in_channels=3, num_classes=2, params={"encoder": "resnet18", "encoder_depth": 3}
    )
    weights = tmp_path / "encoder.pt"
    torch.save(source.model.encoder.state_dict(), weights)
    params = {"encoder": "resnet18", "encoder_depth": 3, "encoder_weights_path": str(weights)}
    loaded = build_model("smp_unet", "baseline", in_channels=3, num_classes=2, params=params)
    for name, tensor in source.model.encoder.state_dict().items():
        assert torch.equal(tensor, loaded.model.encoder.state_dict()[name]), name
    missing = tiny_spec(
        architectures=[{"name": "smp_unet", "params": {**params, "encoder_weights_path": str(tmp_path / "no.pt")}}]
    )
    with pytest.raises(UserError, match="encoder weights file .* not found"):
        validate_study(parse_spec(missing, "spec"))


def test_fixed_frem_variant_keeps_its_channels():
    model = build_model(
        "unet", "frem_fixed", in_channels=1, num_classes=2, params={"base_channels": 4, "depth": 2}, hyper=HYPER
    )
    before = list(model.bottleneck_transform.enhanced_channels)
    model.set_epoch(3)
    assert model.bottleneck_transform.fixed and model.bottleneck_transform.enhanced_channels == before
