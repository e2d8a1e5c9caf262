"""The copy of smp's encoder table that a study's checks read without importing smp."""

from pathlib import Path

import segmentation_models_pytorch as smp

from scripts.smp_encoder_table import encoder_out_channels, table_source
from trainables.architecture_names import smp_bottleneck_channels
from trainables.smp_encoders import ENCODER_OUT_CHANNELS, SMP_VERSION


def test_the_copy_matches_the_installed_smp():
    fix = "regenerate it: .venv/bin/python scripts/smp_encoder_table.py"
    assert SMP_VERSION == smp.__version__, fix
    assert ENCODER_OUT_CHANNELS == encoder_out_channels(), fix


def test_the_generator_writes_the_module_as_committed():
    from trainables import smp_encoders

    assert table_source() == Path(smp_encoders.__file__).read_text()


def test_the_bottleneck_of_a_shallower_encoder_is_its_deepest_feature():
    assert smp_bottleneck_channels("resnet50", 5) == 2048
    assert smp_bottleneck_channels("resnet50", 3) == ENCODER_OUT_CHANNELS["resnet50"][3] == 512
