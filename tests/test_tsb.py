import numpy as np
import pytest
import torch

from tsjt_basicts.tsb import SummedCombiner, TargetSkewedCombiner, build_combiner, parameter_groups

RATIO = 1e-6 / 2e-4  # gamma2 / gamma1 of the paper


def combine(g_t, g_s, ratio=RATIO, groups=None):
    params = [torch.empty_like(g) for g in g_t]
    combiner = TargetSkewedCombiner(ratio, groups if groups is not None else range(len(g_t)))
    return combiner(g_t, g_s, params)


def test_conflicting_source_keeps_only_its_orthogonal_part():
    g_t, g_s = [torch.tensor([[1.0, 0.0], [0.0, 0.0]])], [torch.tensor([[-3.0, 2.0], [0.0, 5.0]])]
    (out,), stats = combine(g_t, g_s, ratio=0.5)
    orthogonal = (out - g_t[0]) / 0.5
    assert float((orthogonal * g_t[0]).sum()) == pytest.approx(0.0, abs=1e-7)
    torch.testing.assert_close(orthogonal, torch.tensor([[0.0, 2.0], [0.0, 5.0]]))
    assert stats.dropped_fraction == 1.0 and stats.cosine < 0


def test_agreeing_source_is_kept_whole():
    g_t, g_s = [torch.randn(4, 3)], [torch.randn(4, 3)]
    g_s[0] = g_s[0] + 10 * g_t[0]  # make <g_S, g_T> clearly positive
    (out,), stats = combine(g_t, g_s, ratio=0.3)
    torch.testing.assert_close(out, g_t[0] + 0.3 * g_s[0])
    assert stats.dropped_fraction == 0.0 and stats.cosine > 0


def test_per_tensor_granularity_decides_each_tensor_alone():
    g_t = [torch.ones(3), torch.ones(2)]
    g_s = [torch.ones(3), -torch.ones(2) * 10]
    per_tensor, stats = combine(g_t, g_s, ratio=1.0)
    torch.testing.assert_close(per_tensor[0], 2 * torch.ones(3))  # agrees: kept whole
    torch.testing.assert_close(per_tensor[1], torch.ones(2))  # conflicts: parallel part dropped
    assert stats.dropped_fraction == 0.5
    whole_model, _ = combine(g_t, g_s, ratio=1.0, groups=[0, 0])  # <g_S, g_T> = 3 - 20 < 0 overall
    coef = -17.0 / 5.0
    torch.testing.assert_close(whole_model[0], torch.ones(3) + torch.ones(3) - coef * torch.ones(3))


def test_zero_target_gradient_gives_finite_source_step():
    (out,), stats = combine([torch.zeros(5)], [torch.arange(5.0)], ratio=0.5)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, 0.5 * torch.arange(5.0))
    assert stats.dropped_fraction == 0.0


def test_missing_gradient_counts_as_zero():
    params = [torch.empty(2), torch.empty(3)]
    out, _ = TargetSkewedCombiner(1.0, [0, 1])([torch.ones(2), None], [None, torch.ones(3)], params)
    torch.testing.assert_close(out[0], torch.ones(2))
    torch.testing.assert_close(out[1], torch.ones(3))


def test_combination_commutes_with_a_common_scale_as_amp_needs():
    g_t, g_s = [torch.randn(6), torch.randn(2, 2)], [torch.randn(6), torch.randn(2, 2)]
    plain, _ = combine(g_t, g_s, ratio=0.7)
    scaled, _ = combine([1024 * g for g in g_t], [1024 * g for g in g_s], ratio=0.7)
    for a, b in zip(plain, scaled):
        torch.testing.assert_close(b / 1024, a)


def test_sgd_on_the_combined_gradient_is_eq_10_by_hand():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    x_t, y_t, x_s, y_s = torch.randn(4, 3), torch.randn(4, 1), torch.randn(12, 3), torch.randn(12, 1)
    gamma1, gamma2 = 2e-4, 1e-6
    params = list(model.parameters())
    g_t = torch.autograd.grad(torch.nn.functional.mse_loss(model(x_t), y_t), params)
    g_s = torch.autograd.grad(torch.nn.functional.mse_loss(model(x_s), y_s), params)
    expected = []
    for p, t, s in zip(params, g_t, g_s):
        t, s = t.double().numpy(), s.double().numpy()
        dot = float((t * s).sum())
        g_st = dot / float((t * t).sum()) * t
        g_sv = s - g_st
        expected.append(p.detach().double().numpy() - gamma1 * t - gamma2 * (g_sv + (dot > 0) * g_st))
    combiner = build_combiner("tsb", model.named_parameters(), source_ratio=gamma2 / gamma1)
    combined, _ = combiner(g_t, g_s, params)
    optimizer = torch.optim.SGD(params, lr=gamma1)
    for p, g in zip(params, combined):
        p.grad = g
    optimizer.step()
    for p, e in zip(params, expected):
        np.testing.assert_allclose(p.detach().double().numpy(), e, rtol=1e-6, atol=1e-9)


def test_summed_combiner_is_plain_joint_training():
    g_t, g_s = [torch.randn(3)], [torch.randn(3)]
    (out,), _ = SummedCombiner(1.0, [0])(g_t, g_s, [torch.empty(3)])
    torch.testing.assert_close(out, g_t[0] + g_s[0])


def test_parameter_groups_and_bad_names():
    names = ["enc.weight", "enc.bias", "head.weight"]
    assert parameter_groups(names, "tensor") == [0, 1, 2]
    assert parameter_groups(names, "module") == [0, 0, 1]
    assert parameter_groups(names, "model") == [0, 0, 0]
    with pytest.raises(ValueError, match="unknown TSB granularity"):
        parameter_groups(names, "layer")
    with pytest.raises(ValueError, match="unknown gradient combiner"):
        build_combiner("pcgrad", [], 1.0)


def test_statistics_stay_on_the_device_with_the_values_the_host_formula_gave():
    g_t = [torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0]), torch.zeros(2)]
    g_s = [torch.tensor([-1.0, 2.0]), torch.tensor([2.0, 0.0]), torch.tensor([3.0, 4.0])]
    _, stats = combine(g_t, g_s, ratio=0.5)
    assert isinstance(stats.dropped_fraction, torch.Tensor) and isinstance(stats.cosine, torch.Tensor)
    # the former float() values: 1 of the 2 tensors with a target gradient conflicts; cos = 1 / sqrt(3 * 34)
    assert float(stats.dropped_fraction) == 0.5
    assert float(stats.cosine) == pytest.approx(1 / np.sqrt(102), rel=1e-6)
    torch.testing.assert_close(stats.as_tensor(), torch.tensor([0.5, 1 / np.sqrt(102)], dtype=torch.float32))
    _, zero = combine([torch.zeros(3)], [torch.ones(3)])
    assert zero.as_tensor().tolist() == [0.0, 0.0]  # no target gradient: nothing dropped, cosine 0 (not NaN)
    _, summed = SummedCombiner(1.0, [0, 1, 2])(g_t, g_s, g_t)
    assert summed.as_tensor().tolist() == pytest.approx([0.0, 1 / np.sqrt(102)])
