"""Property tests (hypothesis): the promises of an HTA adapter, over layer shapes, groups, active subsets, supplement ranks,
dtypes, both styles, dropout and train/eval mode.

Profiles (environment variable HSVD_NB_HYPOTHESIS): 'ci' (default: a few examples per property, derandomized, so a CI run
is bounded and repeatable) and 'thorough' (many more, random; run it after touching the layer maths).
"""
import copy, os, tempfile
from pathlib import Path
import pytest
import torch
import torch.nn.functional as F
from torch import nn
import timm
from hypothesis import given, settings, strategies as st, HealthCheck
from hsvd_nb.householder import householder
from hsvd_nb.hta import HTALinear, HTAResidual, hta_dense, randomize_hta
from hsvd_nb.inject import (HTAConfig, add_hta, hta_layers, hta_params, param_kind, merge_hta, merge_adapter,
                            unmerge_adapter, save_hta, load_hta)

settings.register_profile('ci', max_examples=12, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile('thorough', max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get('HSVD_NB_HYPOTHESIS', 'ci'))

DTYPES = (torch.float32, torch.bfloat16, torch.float16)
# Worst error of a forward pass against the float64 reference, relative to 1 + max|reference|: one rounding of the
# output plus the factors' roundoff, a few units of the dtype's epsilon times the widths used here
TOL = {torch.float32: 1e-4, torch.bfloat16: 6e-2, torch.float16: 1e-2}

@st.composite
def layers(draw):
    "An HTA layer of either style on a random nn.Linear, with random adapters, and a batch of inputs"
    style = draw(st.sampled_from(['lora', 'adapter']))
    dtype = draw(st.sampled_from(DTYPES))
    d_in = draw(st.integers(1, 12))
    if style == 'lora': groups, d_g = draw(st.integers(1, 3)), draw(st.integers(1, 8))
    else: groups, d_g = 1, draw(st.integers(1, 12))
    active = tuple(sorted(draw(st.sets(st.integers(0, groups - 1), min_size=1)))) if style == 'lora' else None
    r = draw(st.integers(0, min(4, d_in if style == 'lora' else d_g, d_g)))
    dropout = draw(st.sampled_from([0., 0.3]))
    scale = draw(st.sampled_from([1., 0.5, -2.]))
    seed = draw(st.integers(0, 2**16))
    torch.manual_seed(seed)
    base = nn.Linear(d_in, groups * d_g, bias=draw(st.booleans())).to(dtype)
    m = (HTALinear(base, groups, active, supplement_rank=r, dropout=dropout, scale=scale) if style == 'lora'
         else HTAResidual(base, supplement_rank=r, dropout=dropout, scale=scale))
    x = torch.randn(draw(st.integers(1, 4)), d_in).to(dtype)
    return m.train(draw(st.booleans())), x, seed

def dense_delta(m)->torch.Tensor:
    "s·ΔW (d_in, d_out) of a layer in float64 from the dense definition, group by group (inactive groups: zero)"
    dW = torch.zeros(m.d_in, m.d_out, dtype=torch.float64)
    p = {n: getattr(m, 'hta_' + n).detach().double() for n in ('vl', 'diag', 'vr', 'down', 'up')}
    for i, g in enumerate(m.active):
        dW[:, g*m.d_g:(g+1)*m.d_g] = hta_dense(p['vl'][i], p['diag'][i], p['vr'][i], p['down'][i], p['up'][i])
    return m.scale * dW

def reference(m, x, seed)->torch.Tensor:
    "The layer's output computed in float64 from the definition, with the same dropout mask as the layer draws"
    b, xd = m.base_layer, x.double()
    h = F.linear(xd, b.weight.double(), None if b.bias is None else b.bias.double())
    xin = xd if isinstance(m, HTALinear) else h
    if m.training and isinstance(m.dropout, nn.Dropout):
        torch.manual_seed(seed)   # the layer drew its mask from the same generator state
        xin = F.dropout(x if isinstance(m, HTALinear) else b(x), m.dropout.p, True).double()
    return h + xin @ dense_delta(m)

def close(y, ref, dtype, what=''):
    err, bound = (y.double() - ref).abs().max().item(), TOL[dtype] * (1 + ref.abs().max().item())
    assert err <= bound, f"{what}: max error {err:.3g} > {bound:.3g} in {dtype}"

@given(layers())
def test_zero_at_init(case):
    "A fresh adapter changes nothing: ΔW is exactly zero and the output is the base layer's, bit for bit"
    m, x, seed = case
    assert not m.delta_weight().any()
    torch.manual_seed(seed)
    with torch.no_grad(): assert torch.equal(m(x), m.base_layer(x))

@given(layers())
def test_matches_dense_reference(case):
    "The fast path equals x(W + s·ΔW) + b (or h + s·h·ΔW) built from dense reflections, dropout mask included"
    m, x, seed = case
    randomize_hta(m, std=0.5, seed=seed)
    torch.manual_seed(seed)
    with torch.no_grad(): y = m(x)
    close(y, reference(m, x, seed), x.dtype, 'forward')
    test = m.delta_weight(torch.float64).T      # the dense update as the layer reports it
    close(test, dense_delta(m), x.dtype, 'delta_weight')

@given(layers())
def test_merge_unmerge_round_trip(case):
    "merge gives the unmerged outputs (within rounding); unmerge restores the base weights and outputs bit for bit"
    m, x, seed = case
    m.eval()
    randomize_hta(m, std=0.5, seed=seed)
    w0 = m.base_layer.weight.detach().clone()
    b0 = None if m.base_layer.bias is None else m.base_layer.bias.detach().clone()
    with torch.no_grad():
        y0 = m(x)
        m.merge(); y1 = m(x)
        m.unmerge(); y2 = m(x)
    close(y1, y0.double(), x.dtype, 'merged')
    assert torch.equal(m.base_layer.weight, w0) and (b0 is None or torch.equal(m.base_layer.bias, b0))
    assert torch.equal(y2, y0)

# ---- whole models: a tiny random-init timm ViT (img_size 32, patch 4, depth 2)

_BASE = {}
def tiny_vit(dtype)->nn.Module:
    if dtype not in _BASE:
        torch.manual_seed(0)
        _BASE[dtype] = timm.create_model('vit_tiny_patch16_224', pretrained=False, img_size=32, patch_size=4, depth=2,
                                         num_classes=5).to(dtype).eval()
    return copy.deepcopy(_BASE[dtype])

TARGETS = {'lora': [('attn.qkv', 'attn.proj'), ('attn.q', 'attn.v'), ('attn.k',), ('mlp.fc1', 'mlp.fc2')],
           'adapter': [('attn.proj', 'mlp.fc2'), ('attn.qkv',), ('mlp.fc1',)]}

@st.composite
def models(draw):
    "A tiny ViT with random adapters of a random config, a batch of images, and the seed"
    style, dtype = draw(st.sampled_from(['lora', 'adapter'])), draw(st.sampled_from(DTYPES))
    cfg = HTAConfig(targets=draw(st.sampled_from(TARGETS[style])), style=style, supplement_rank=draw(st.integers(0, 4)),
                    dropout=draw(st.sampled_from([0., 0.2])), scale=draw(st.sampled_from([1., 0.5])),
                    train_head=draw(st.booleans()), modules_to_save=draw(st.sampled_from([(), ('norm',)])))
    seed = draw(st.integers(0, 2**16))
    m = randomize_hta(add_hta(tiny_vit(dtype), cfg), std=0.1, seed=seed)
    torch.manual_seed(seed)
    return m.train(draw(st.booleans())), torch.randn(2, 3, 32, 32).to(dtype), seed

@given(models())
def test_merge_hta_equals_unmerged(case):
    "`merge_hta` gives a plain timm model (no HTA layer left) whose logits are the adapted model's"
    m, x, seed = case
    m.eval()
    with torch.no_grad():
        y = m(x)
        plain = merge_hta(copy.deepcopy(m))
        assert not hta_layers(plain) and not any('hta_' in k for k in plain.state_dict())
        close(plain(x), y.double(), x.dtype, 'merge_hta')
        merge_adapter(m); close(m(x), y.double(), x.dtype, 'merge_adapter')
        unmerge_adapter(m); assert torch.equal(m(x), y)

@given(models())
def test_gradients_reach_only_what_trains(case):
    "After a backward pass exactly `hta_params` (adapters, head when train_head, modules_to_save) hold gradients"
    m, x, seed = case
    m(x).float().square().mean().backward()
    kinds, trains = param_kind(m), set(hta_params(m))
    got = {n for n, p in m.named_parameters() if p.grad is not None}
    assert got == trains, (sorted(got ^ trains)[:5])
    assert ('head.weight' in trains) == m.hta_config.train_head
    assert all(kinds[n] != 'frozen' for n in got)
    assert all(not p.requires_grad for n, p in m.named_parameters() if n not in trains)
    assert any(p.grad.any() for n, p in m.named_parameters() if n.rsplit('.', 1)[-1] == 'hta_diag')

@given(models())
def test_save_load_bit_exact(case):
    "save_hta → load_hta into a fresh model of the same dtype gives identical tensors and identical outputs"
    m, x, seed = case
    m.eval()
    with tempfile.TemporaryDirectory() as d:
        fresh = load_hta(tiny_vit(x.dtype), save_hta(m, Path(d)/'a.safetensors')).eval()
    src, dst = hta_params(m), hta_params(fresh)
    assert list(src) == list(dst)
    assert all(torch.equal(src[n], dst[n]) and src[n].dtype == dst[n].dtype for n in src)
    assert fresh.hta_config == m.hta_config
    with torch.no_grad(): assert torch.equal(fresh(x), m(x))
