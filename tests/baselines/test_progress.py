"""Long baseline phases are logged with their elapsed time; bars go to stderr only where wanted."""
import logging

import pytest

from baselines import ha
from baselines.progress import PROGRESS_ENV, bar, bars_enabled, elapsed
from baselines.reptile import ReptileConfig
from baselines.reptile import run as run_reptile
from baselines.tpb import TPBConfig
from baselines.tpb import run as run_tpb
from tsjt_basicts.errors import ConfigError

TINY_GWN = {"residual_channels": 4, "dilation_channels": 4, "skip_channels": 8, "end_channels": 8, "blocks": 1}


def messages(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name.startswith("baselines.")]


def test_reptile_logs_each_phase_and_its_elapsed_time(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv(PROGRESS_ENV, "0")
    config = ReptileConfig(backbone_config=TINY_GWN, meta_iterations=2, inner_steps=1, batch_size=4, finetune_steps=3,
                           eval_every=3)
    with caplog.at_level(logging.INFO, logger="baselines"):
        run_reptile("synthetic", out_root=str(tmp_path), config=config)
    lines = messages(caplog)
    expected = [
        "Reptile: loading task synthetic",
        "Reptile: meta-training 2 iterations on 3 source cities",
        "Reptile: fine-tuning on target synthetic-shenzhen, 3 steps",
        "Reptile: testing on 386 test windows of synthetic-shenzhen",
    ]
    for line in expected:
        assert line in lines
        name = line.split(" ")[1]
        assert any(done.startswith(f"Reptile: {name} done in ") for done in lines[lines.index(line):])
    assert lines[-1].startswith("Reptile: result written to ")


def test_tpb_logs_its_pre_training_and_pattern_bank(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv(PROGRESS_ENV, "0")
    config = TPBConfig(history_patches=2, embed_dim=4, pretrain_epochs=1, max_segments=42, num_patterns=2,
                       kmeans_iters=2, top_k=1, backbone_config=TINY_GWN, finetune_steps=1, batch_size=8)
    with caplog.at_level(logging.INFO, logger="baselines"):
        run_tpb("synthetic", out_root=str(tmp_path), config=config)
    lines = messages(caplog)
    assert "TPB: pre-training 1 epochs on 42 segments of 3 source cities" in lines
    assert "TPB: pattern bank k-means of 42 segments of 3 source cities into 2 patterns" in lines
    assert any(line.startswith("TPB: pattern bank done in ") for line in lines)


def test_the_statistical_baselines_log_fitting_and_testing(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="baselines"):
        ha.run("synthetic", out_root=str(tmp_path))
    lines = messages(caplog)
    assert "HA: fitting on the 432 few-shot steps of synthetic-shenzhen" in lines
    assert any(line.startswith("HA: fitting done in ") for line in lines)


def test_bars_go_to_stderr_when_asked_and_not_when_stderr_is_no_terminal(capsys, monkeypatch):
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    assert not bars_enabled()  # pytest's stderr is not a terminal
    assert list(bar(range(3), 3, "counting")) == [0, 1, 2]
    assert capsys.readouterr().err == ""
    monkeypatch.setenv(PROGRESS_ENV, "1")
    assert list(bar(range(3), 3, "counting")) == [0, 1, 2]
    assert "counting" in capsys.readouterr().err
    monkeypatch.setenv(PROGRESS_ENV, "0")
    list(bar(range(3), 3, "counting"))
    assert capsys.readouterr().err == ""
    monkeypatch.setenv(PROGRESS_ENV, "yes")
    with pytest.raises(ConfigError, match="TSJT_PROGRESS='yes'.*0.*1"):
        bars_enabled()


def test_elapsed_time_reads_naturally():
    assert [elapsed(s) for s in (3.21, 245, 3725)] == ["3.2 s", "4 min 05 s", "1 h 02 min"]
