"""CUDA checks, skipped where no GPU is visible (CI): the same code paths as the CPU tests, on a GPU."""
import json
import math

import pytest
import torch

from tsjt_basicts.suite import SUITES, result_path, run_suite
from tsjt_basicts.tsb import TargetSkewedCombiner

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_tsb_on_the_gpu_equals_tsb_on_the_cpu():
    generator = torch.Generator().manual_seed(0)
    shapes = [(64, 32), (32,), (8, 8, 3)]
    g_t = [torch.randn(s, generator=generator) for s in shapes]
    g_s = [torch.randn(s, generator=generator) for s in shapes]
    g_s[1] = -g_t[1] + 0.1 * g_s[1]  # one conflicting tensor, so the indicator differs across tensors
    combiner = TargetSkewedCombiner(0.5, range(len(shapes)))
    on_cpu, _ = combiner(g_t, g_s, g_t)
    on_gpu, _ = combiner([g.cuda() for g in g_t], [g.cuda() for g in g_s], [g.cuda() for g in g_t])
    for cpu, gpu in zip(on_cpu, on_gpu):
        assert gpu.is_cuda
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_the_smoke_suite_trains_every_method_on_the_gpu(tmp_path):
    entries, _ = SUITES["table2"]
    assert run_suite("table2", seeds=1, budget="smoke", out_root=str(tmp_path), gpus="0", tasks=["synthetic"]) == []
    for entry in entries:
        record = json.loads(result_path(entry, "synthetic", 0, "smoke", str(tmp_path), "0").read_text())
        assert all(math.isfinite(v) for v in record["metrics"]["avg"].values()), entry
        assert record["device"] == ("cpu" if entry.method in ("HA", "ARIMA") else "cuda:0"), entry
    timed = [json.loads(line) for line in (tmp_path / "wall_times.jsonl").read_text().splitlines()]
    assert sorted(t["device"] for t in timed) == sorted(["cpu"] * 2 + ["cuda:0"] * (len(entries) - 2))
