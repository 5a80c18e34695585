import pytest

from tsjt_basicts.backbones import GWN, STGCN, backbone_class, build_backbone, list_backbones, register_backbone


def test_the_backbones_are_registered_and_listed_sorted():
    assert {"DCRNN", "GWN", "STGCN"} <= set(list_backbones()) and list_backbones() == sorted(list_backbones())
    assert list_backbones("st*n") == ["STGCN"]
    assert list_backbones("gw?") == ["GWN"]
    assert list_backbones("nothing*") == []
    assert backbone_class("GWN") is GWN


def test_a_duplicate_name_raises():
    with pytest.raises(ValueError, match="'GWN' is already registered"):

        @register_backbone("GWN")
        class AnotherGWN(GWN):
            pass

    assert backbone_class("GWN") is GWN


def test_only_backbones_can_be_registered():
    with pytest.raises(TypeError, match="Backbone subclasses"):
        register_backbone("NotAModel")(dict)


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown backbone 'GraphWaveNet'; known backbones: " + ", ".join(list_backbones())):
        build_backbone("GraphWaveNet")


def test_an_unknown_config_key_raises_instead_of_being_ignored():
    with pytest.raises(ValueError, match=r"no config field\(s\) \['resdual_channels'\].*residual_channels"):
        build_backbone("GWN", resdual_channels=16)


def test_config_values_are_checked():
    with pytest.raises(ValueError, match="input_len > 8"):
        build_backbone("STGCN", input_len=8)
    with pytest.raises(ValueError, match="must be an int"):
        build_backbone("DCRNN", hidden_size=8.5)
    with pytest.raises(ValueError, match="num_nodes needs adaptive_graph=True"):
        build_backbone("GWN", num_nodes=5, adaptive_graph=False)


def test_defaults_apply_and_given_fields_override_them():
    model = build_backbone("STGCN", kt=2)
    assert isinstance(model, STGCN)
    assert model.config.kt == 2 and model.config.block_channels == (64, 16, 64)
    assert model.config.in_channels == 3 and model.config.output_len == 6
