"""A baseline's bad settings end in one ConfigError / DataError line naming the field, before any work."""
import math

import pytest

from baselines import ha, stgfsl, tpb
from baselines.arima import run as run_arima
from baselines.checks import check_device
from baselines.common import StatisticalConfig
from baselines.reptile import ReptileConfig
from baselines.stgfsl import STGFSLConfig
from baselines.tpb import TPBConfig
from tsjt_basicts.data.city import DataError
from tsjt_basicts.errors import ConfigError

BAD_SETTINGS = [  # (config class, field, value, words the message must hold)
    (ReptileConfig, "finetune_steps", -5, "integer >= 1"),
    (ReptileConfig, "batch_size", 0, "integer >= 1"),
    (ReptileConfig, "meta_iterations", "200", "integer >= 1"),
    (ReptileConfig, "meta_iterations", 2.0, "integer >= 1"),
    (ReptileConfig, "eval_every", True, "integer >= 1"),
    (ReptileConfig, "inner_lr", 0.0, "> 0"),
    (ReptileConfig, "finetune_lr", math.nan, "finite number > 0"),
    (ReptileConfig, "anneal", "yes", "true or false"),
    (ReptileConfig, "inner_optimizer", "rmsprop", "one of ['adam', 'sgd']"),
    (ReptileConfig, "backbone", "NoSuchNet", "known backbones: DCRNN, DSTAGNN, FOGS, GWN"),
    (ReptileConfig, "backbone_config", {"hidden": 8}, "no config field"),
    (ReptileConfig, "backbone_config", {"blocks": 0}, "blocks"),
    (ReptileConfig, "backbone_config", [8], "a dict"),
    (ReptileConfig, "val_days", 3.0, "below target_days"),
    (ReptileConfig, "data_seed", -1, ">= 0"),
    (STGFSLConfig, "model", "LSTM", "one of ['GRU', 'GWN']"),
    (STGFSLConfig, "batch_size", 0, "integer >= 1"),
    (STGFSLConfig, "weight_decay", -0.1, ">= 0"),
    (STGFSLConfig, "meta_iterations", -1, "integer >= 1"),
    (STGFSLConfig, "target_days", math.inf, "finite number"),
    (TPBConfig, "embed_dim", 7, "even"),
    (TPBConfig, "history_patches", 1, ">= 2"),
    (TPBConfig, "mask_ratio", 1.0, "in (0, 1)"),
    (TPBConfig, "top_k", 40, "at most num_patterns"),
    (TPBConfig, "max_segments", 10, "at least num_patterns"),
    (TPBConfig, "pretrain_epochs", 0, "integer >= 1"),
    (TPBConfig, "backbone_config", {"in_channels": 5}, "may not set ['in_channels']"),
    (StatisticalConfig, "target_days", 0, "> 0"),
]


@pytest.mark.parametrize("config_class, name, value, words", BAD_SETTINGS,
                         ids=[f"{c.__name__}.{n}={v!r}" for c, n, v, _ in BAD_SETTINGS])
def test_a_bad_setting_is_one_config_error_line_naming_it(config_class, name, value, words):
    with pytest.raises(ConfigError) as refused:
        config_class(**{name: value})
    message = str(refused.value)
    assert "\n" not in message and config_class.__name__ in message and words in message
    assert name in message or name == "backbone_config"


def test_good_settings_pass():
    ReptileConfig(backbone="STGCN", backbone_config={"num_blocks": 1})
    STGFSLConfig(model="GWN", weight_decay=0.0, reconstruction_weight=0)
    TPBConfig(embed_dim=8, num_patterns=4, top_k=4, max_segments=4, val_days=0.0)
    StatisticalConfig(target_days=1)


@pytest.mark.parametrize("device, words", [("nonsense", "not a torch device"), ("cuda:7", "cuda")])
def test_a_device_this_machine_lacks_is_refused(device, words):
    with pytest.raises(ConfigError, match=words):
        check_device(device)


def test_run_options_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="max_workers"):
        run_arima("synthetic", out_root=str(tmp_path), max_workers=0)
    with pytest.raises(ConfigError, match="seed must be an integer >= 0"):
        ha.run("synthetic", seed=-1, out_root=str(tmp_path))
    with pytest.raises(DataError, match="unknown task 'nowhere'"):
        ha.run("nowhere", out_root=str(tmp_path))
    assert not any(tmp_path.iterdir())


def test_a_target_or_sources_too_small_for_the_settings_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="shorter than one window"):
        ha.run("synthetic", out_root=str(tmp_path), target_days=0.05)
    with pytest.raises(DataError, match="overlaps the test range"):
        ha.run("synthetic", out_root=str(tmp_path), target_days=30.0)
    with pytest.raises(DataError, match="history in"):
        tpb.run("synthetic", out_root=str(tmp_path), config=TPBConfig(history_patches=40))
    with pytest.raises(DataError, match="lower STGFSLConfig.batch_size"):
        stgfsl.run("synthetic", out_root=str(tmp_path), config=STGFSLConfig(batch_size=5000))
    assert not any(tmp_path.iterdir())


def test_the_command_line_ends_a_user_error_in_one_line(tmp_path, capsys):
    assert ha.main(["--task", "nowhere", "--out-root", str(tmp_path)]) == 2
    assert stgfsl.main(["--task", "synthetic", "--out-root", str(tmp_path), "--device", "cuda:7"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 2 and "unknown task 'nowhere'" in err[0] and "cuda:7" in err[1]
