"""Plain BasicTS 1.1.0 use: train Graph WaveNet on one tiny city with the standard launcher and runner."""
import json

import numpy as np
import pytest
import torch
from backbone_helpers import SMALL, random_adjacency
from basicts import BasicTSLauncher
from basicts.configs import BasicTSForecastingConfig

from tsjt_basicts.backbones import BasicTSBackbone, BasicTSBackboneConfig

NODES, STEPS_PER_DAY = 5, 48


def write_city(root) -> tuple[str, str]:
    """BasicTS 1.1.0 reads <dir>/{train,val,test}_data.npy [T, N] and *_timestamps.npy [T, K] in [0, 1)."""
    data_dir = root / "TinyCity"
    data_dir.mkdir()
    steps = np.arange(20 * STEPS_PER_DAY // 2)  # ten days
    rng = np.random.default_rng(0)
    daily = np.sin(2 * np.pi * steps / STEPS_PER_DAY)[:, None] * (1 + np.arange(NODES))
    data = (50 + 10 * daily + rng.normal(0, 1, (len(steps), NODES))).astype(np.float32)
    stamps = np.stack([(steps % STEPS_PER_DAY) / STEPS_PER_DAY, (steps // STEPS_PER_DAY % 7) / 7], 1).astype(np.float32)
    bounds = {"train": (0, 336), "val": (336, 408), "test": (408, len(steps))}
    for mode, (start, stop) in bounds.items():
        np.save(data_dir / f"{mode}_data.npy", data[start:stop])
        np.save(data_dir / f"{mode}_timestamps.npy", stamps[start:stop])
    adjacency_path = root / "adjacency.npy"
    np.save(adjacency_path, random_adjacency(NODES, seed=0))
    return str(data_dir), str(adjacency_path)


def test_gwn_trains_one_epoch_with_the_plain_basicts_launcher(tmp_path):
    data_dir, adjacency_path = write_city(tmp_path)
    cfg = BasicTSForecastingConfig(
        model=BasicTSBackbone,
        model_config=BasicTSBackboneConfig(
            backbone="GWN", adjacency_path=adjacency_path, backbone_params={**SMALL["GWN"], "num_nodes": NODES}
        ),
        dataset_name="TinyCity",
        data_file_path=data_dir,
        input_len=12,
        output_len=6,
        use_timestamps=True,
        batch_size=32,
        num_epochs=1,
        lr=1e-3,
        metrics=["MAE", "RMSE"],
        ckpt_save_dir=str(tmp_path / "checkpoints"),
        seed=0,
    )
    BasicTSLauncher.launch_training(cfg)
    (metrics_file,) = (tmp_path / "checkpoints").rglob("test_metrics.json")
    metrics = json.loads(metrics_file.read_text())["overall"]
    assert np.isfinite(metrics["MAE"]) and metrics["MAE"] > 0
    (checkpoint,) = (tmp_path / "checkpoints").rglob("BasicTSBackbone_best_val_MAE.pt")
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)["model_state_dict"]
    assert state["backbone.source_embedding"].shape == (NODES, 10)


def test_the_wrapper_maps_basicts_tensors_and_explains_missing_timestamps(tmp_path):
    _, adjacency_path = write_city(tmp_path)
    config = BasicTSBackboneConfig(
        backbone="STGCN", adjacency_path=adjacency_path, input_len=12, output_len=6, backbone_params=SMALL["STGCN"]
    )
    model = BasicTSBackbone(config)
    inputs, stamps = torch.randn(2, 12, NODES), torch.rand(2, 12, 4)
    assert model(inputs, stamps).shape == (2, 6, NODES)
    with pytest.raises(ValueError, match="set use_timestamps=True"):
        model(inputs)
    sizes = {"adjacency_path": adjacency_path, "input_len": 12, "output_len": 6}
    with pytest.raises(ValueError, match=r"must not set \['in_channels'\]"):
        BasicTSBackbone(BasicTSBackboneConfig(**sizes, backbone_params={"in_channels": 3}))
    with pytest.raises(ValueError, match="unknown backbone 'Nope'"):
        BasicTSBackbone(BasicTSBackboneConfig(backbone="Nope", **sizes))
    with pytest.raises(ValueError, match="adjacency_path must name"):
        BasicTSBackbone(BasicTSBackboneConfig(**{**sizes, "adjacency_path": str(tmp_path / "missing.npy")}))
