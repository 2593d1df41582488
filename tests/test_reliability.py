"""Reliability: what a user relies on, under bad files, crashes, wrappers and serialisers, dtype moves and concurrent
fetches. Each test names the promise it proves; nbs/99_failures.ipynb tabulates them with what the user sees.
Tiny random-init timm ViTs (img_size 32, patch 4, depth 2); no network."""
import copy, os, pickle, subprocess, sys, textwrap
from pathlib import Path
import numpy as np
import pytest
import torch
from torch import nn
import timm
from safetensors import safe_open
from safetensors.torch import save_file, load_file
from fastai.learner import load_learner
import hsvd_nb.inject as inject
from hsvd_nb.hta import randomize_hta
from hsvd_nb.inject import (HTAConfig, add_hta, hta_layers, hta_params, merge_hta, merge_adapter, unmerge_adapter,
                            save_hta, read_hta, load_hta, write_safetensors)
from hsvd_nb.data import make_dls
from hsvd_nb.learner import hta_learner

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, 'HF_HUB_OFFLINE': '1'}

def tiny_vit(arch='vit_tiny_patch16_224', **kw)->nn.Module:
    torch.manual_seed(0)
    return timm.create_model(arch, pretrained=False, **(dict(img_size=32, patch_size=4, depth=2, num_classes=5) | kw)).eval()

def adapted(seed=1, **cfg)->nn.Module:
    "A tiny ViT with trained-looking adapters and head"
    m = randomize_hta(add_hta(tiny_vit(), HTAConfig(**cfg)), std=0.2, seed=seed)
    with torch.no_grad(): m.head.weight.normal_(generator=torch.Generator().manual_seed(seed))
    return m.eval()

X = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))

def snapshot(m:nn.Module)->dict:
    "Everything a failed load must leave alone: tensors, requires_grad, module types, config, merged flags"
    return dict(state={k: v.clone() for k, v in m.state_dict().items()},
                grad={n: p.requires_grad for n, p in m.named_parameters()},
                types={n: type(x) for n, x in m.named_modules()},
                config=getattr(m, 'hta_config', None), merged={n: l.merged for n, l in hta_layers(m).items()})

def same(a:dict, b:dict)->bool:
    return (a['state'].keys() == b['state'].keys() and all(torch.equal(a['state'][k], b['state'][k]) for k in a['state'])
            and all(a[k] == b[k] for k in ('grad', 'types', 'config', 'merged')))

# ---------------------------------------------------------------- 2. files

class Payload:
    "Unpickling this creates a marker file: proof that something was unpickled"
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (Path.touch, (Path(self.marker),))

def _rewrite(fn:Path, out:Path, tensors=None, **meta)->Path:
    f = safe_open(fn, 'pt')
    return write_safetensors(tensors if tensors is not None else {k: f.get_tensor(k) for k in f.keys()}, out, f.metadata() | meta)

def bad_files(tmp:Path, fn:Path)->dict:
    "Bad adapter files by what is wrong with them → (path, what the message must say)"
    raw, t = fn.read_bytes(), read_hta(fn).tensors
    (tmp/'truncated.safetensors').write_bytes(raw[:len(raw) // 2])
    (tmp/'header_only.safetensors').write_bytes(raw[:8 + int.from_bytes(raw[:8], 'little')])
    (tmp/'empty.safetensors').write_bytes(b'')
    (tmp/'text.safetensors').write_text('hello')
    (tmp/'pickle.safetensors').write_bytes(pickle.dumps(Payload(tmp/'UNPICKLED')))
    torch.save({'x': Payload(tmp/'UNPICKLED')}, tmp/'torch.pt')
    save_file({'base_model.model.blocks.0.attn.qkv.lora_A.weight': torch.zeros(4, 192)}, tmp/'peft.safetensors',
              metadata={'format': 'pt'})
    small = randomize_hta(add_hta(tiny_vit('vit_small_patch16_224')), seed=2)
    unreadable = 'not a readable safetensors adapter file'
    return {
        'truncated': (tmp/'truncated.safetensors', unreadable),
        'header only (data cut off)': (tmp/'header_only.safetensors', unreadable),
        'empty': (tmp/'empty.safetensors', unreadable),
        'text': (tmp/'text.safetensors', unreadable),
        'pickle': (tmp/'pickle.safetensors', unreadable),
        'torch.save checkpoint': (tmp/'torch.pt', unreadable),
        'safetensors from another tool': (tmp/'peft.safetensors', 'not an hsvd-nb adapter'),
        'another architecture': (save_hta(small, tmp/'small.safetensors'), 'was saved for model=VisionTransformer, architecture=vit_small_patch16_224, embed_dim=384'),
        'another depth': (save_hta(randomize_hta(add_hta(tiny_vit(depth=3)), seed=2), tmp/'deep.safetensors'), 'depth=3'),
        'another width (head)': (save_hta(randomize_hta(add_hta(tiny_vit(num_classes=7)), seed=2), tmp/'head7.safetensors'), 'head.weight: the file holds shape (7, 192)'),
        'wrong shape': (_rewrite(fn, tmp/'shape.safetensors', t | {'blocks.0.attn.qkv.hta_vl': t['blocks.0.attn.qkv.hta_vl'][:, :-1].contiguous()}), 'blocks.0.attn.qkv.hta_vl: the file holds shape (3, 191)'),
        'wrong dtype': (_rewrite(fn, tmp/'dtype.safetensors', t | {'blocks.1.attn.proj.hta_up': t['blocks.1.attn.proj.hta_up'].int()}), 'holds torch.int32 values'),
        'missing key': (_rewrite(fn, tmp/'missing.safetensors', {k: v for k, v in t.items() if k != 'blocks.1.attn.proj.hta_diag'}), "missing ['blocks.1.attn.proj.hta_diag']"),
        'unexpected key': (_rewrite(fn, tmp/'unexpected.safetensors', t | {'blocks.0.attn.qkv.hta_extra': torch.zeros(3)}), "unknown ['blocks.0.attn.qkv.hta_extra']"),
        'damaged metadata': (_rewrite(fn, tmp/'meta.safetensors', config='{not json'), 'damaged adapter metadata'),
        'newer format': (_rewrite(fn, tmp/'v2.safetensors', format_version='2.0'), 'written by a newer hsvd-nb'),
        'another adapter config': (save_hta(adapted(supplement_rank=2), tmp/'rank2.safetensors'), "differ from the file's"),
        'no file': (tmp/'nothing.safetensors', 'no adapter file at'),
    }

@pytest.fixture(scope='module')
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('files')
    fn = save_hta(adapted(), tmp/'good.safetensors')
    return tmp, fn, bad_files(tmp, fn)

CASES = ['truncated', 'header only (data cut off)', 'empty', 'text', 'pickle', 'torch.save checkpoint',
         'safetensors from another tool', 'another architecture', 'another depth', 'another width (head)', 'wrong shape',
         'wrong dtype', 'missing key', 'unexpected key', 'damaged metadata', 'newer format', 'another adapter config', 'no file']

@pytest.mark.parametrize('target', ['fresh model', 'adapted model', 'merged model'])
@pytest.mark.parametrize('case', CASES)
def test_bad_file_refused_and_model_untouched(files, case, target):
    "Every bad file is refused with a message naming the file and the problem; the model is left exactly as it was"
    tmp, fn, bad = files
    path, says = bad[case]
    m = {'fresh model': tiny_vit, 'adapted model': lambda: adapted(seed=5),
         'merged model': lambda: merge_adapter(adapted(seed=5))}[target]()
    if case == 'another adapter config' and target == 'fresh model':   # not a failure: a fresh model takes the file's config
        assert load_hta(m, path).hta_config.supplement_rank == 2
        return
    before = snapshot(m)
    with pytest.raises((ValueError, FileNotFoundError)) as e: load_hta(m, path)
    msg = str(e.value)
    assert says in msg, msg
    assert str(path) in msg, f"the message does not name the file: {msg}"
    assert same(before, snapshot(m)), f"{case}: the model changed"
    assert not (tmp/'UNPICKLED').exists(), "a file was unpickled"

def test_good_file_still_loads(files):
    "The refusals above are not a broken loader: the good file loads into each kind of target"
    tmp, fn, _ = files
    src = adapted()
    for m in (tiny_vit(), adapted(seed=5), merge_adapter(adapted(seed=5))):
        with torch.no_grad(): torch.testing.assert_close(load_hta(m, fn)(X), src(X), atol=1e-4, rtol=1e-4)

def test_save_interrupted_before_rename(tmp_path, monkeypatch):
    "A save that fails between writing the temporary file and renaming it leaves the previous file and no temporary file"
    fn = save_hta(adapted(), tmp_path/'a.safetensors')
    good = fn.read_bytes()
    def crash(src, dst): raise OSError('simulated crash before rename')
    monkeypatch.setattr(inject.os, 'replace', crash)
    with pytest.raises(OSError, match='simulated crash'): save_hta(adapted(seed=7), fn)
    monkeypatch.undo()
    assert fn.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ['a.safetensors']

def test_save_killed_before_rename(tmp_path):
    "A process killed between write and rename (no finally runs) leaves the previous file; the next save clears its temp file"
    fn = save_hta(adapted(), tmp_path/'a.safetensors')
    good = fn.read_bytes()
    script = textwrap.dedent(f"""
        import os, torch, timm
        import hsvd_nb.inject as inject
        from hsvd_nb.hta import randomize_hta
        torch.manual_seed(0)
        m = randomize_hta(inject.add_hta(timm.create_model('vit_tiny_patch16_224', pretrained=False, img_size=32,
                          patch_size=4, depth=2, num_classes=5)), seed=9)
        inject.os.replace = lambda src, dst: os._exit(9)   # the process dies here, as under kill -9
        inject.save_hta(m, {str(fn)!r})
        """)
    r = subprocess.run([sys.executable, '-c', script], env=ENV, capture_output=True, text=True)
    assert r.returncode == 9, r.stderr[-2000:]
    assert fn.read_bytes() == good
    left = [p.name for p in tmp_path.iterdir() if p.name != 'a.safetensors']
    assert len(left) == 1 and left[0].startswith('.a.safetensors.'), left   # the dead process's temporary file
    save_hta(adapted(seed=3), fn)
    assert [p.name for p in tmp_path.iterdir()] == ['a.safetensors']
    read_hta(fn)

def test_save_into_directory(tmp_path):
    "save_hta/load_hta given an existing directory use adapter.safetensors inside it, as peft's save_pretrained does"
    src = adapted()
    assert save_hta(src, tmp_path) == tmp_path/'adapter.safetensors'
    with torch.no_grad(): assert torch.equal(load_hta(tiny_vit(), tmp_path).eval()(X), src(X))

# ---------------------------------------------------------------- 3. dtype and device moves

# Largest logit error against the float32 model, relative to max|logit| (logits here are O(1)-O(10))
MOVE_TOL = {torch.float64: 1e-5, torch.bfloat16: 5e-2, torch.float16: 1e-2}

@pytest.mark.parametrize('move', ['to(bfloat16)', 'half()', 'double()'])
@pytest.mark.parametrize('merged', [False, True])
def test_dtype_moves(move, merged):
    "`.to(torch.bfloat16)`, `.half()` and `.double()` of an adapted (or merged) model keep its outputs, within the dtype's rounding"
    m = adapted(); base = {n: l.base_layer.weight.detach().clone() for n, l in hta_layers(m).items()}
    with torch.no_grad(): y = m(X)
    if merged: merge_adapter(m)
    c = {'to(bfloat16)': lambda m: m.to(torch.bfloat16), 'half()': lambda m: m.half(), 'double()': lambda m: m.double()}[move](m)
    dt = c.cls_token.dtype
    assert {p.dtype for p in c.parameters()} == {dt} and all(l.hta_vl.dtype == dt for l in hta_layers(c).values())
    with torch.no_grad(): yc = c(X.to(dt))
    err = ((yc.double() - y.double()).abs().max() / y.abs().max()).item()
    assert err < MOVE_TOL[dt], err
    if merged:   # unmerging after the move gives the moved base weights back exactly
        unmerge_adapter(c)
        for n, l in hta_layers(c).items(): assert torch.equal(l.base_layer.weight, base[n].to(dt))

@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_device_moves():
    "An adapted model moved to the GPU and back gives the CPU outputs (float32: TF32 off, 1e-4 relative)"
    m = adapted()
    with torch.no_grad(): y = m(X)
    torch.backends.cuda.matmul.allow_tf32 = False
    g = copy.deepcopy(m).cuda()
    assert all(t.device.type == 'cuda' for t in [*g.parameters(), *g.buffers()])
    with torch.no_grad(): yg = g(X.cuda()).cpu()
    torch.testing.assert_close(yg, y, rtol=1e-4, atol=1e-4)
    merge_adapter(g); unmerge_adapter(g)
    with torch.no_grad(): torch.testing.assert_close(g.cpu()(X), y, rtol=1e-4, atol=1e-4)

# ---------------------------------------------------------------- 4. interop

def test_deepcopy():
    "A deep copy is independent, keeps merged state and the batched-factor hooks, and gives the same outputs"
    m = adapted()
    with torch.no_grad(): y = m(X)
    c = copy.deepcopy(m)
    with torch.no_grad():
        assert torch.equal(c(X), y)
        c.blocks[0].attn.qkv.hta_diag.add_(1)
        assert torch.equal(m(X), y)
    merge_adapter(m)
    mc = copy.deepcopy(m)
    assert all(l.merged and bool(l.merged_flag) for l in hta_layers(mc).values())
    unmerge_adapter(mc)
    with torch.no_grad(): assert torch.equal(mc(X), y)
    assert len(mc._forward_pre_hooks) == len(m._forward_pre_hooks) == 1

def test_pickle_model():
    "pickle (what learn.export does to the model) round-trips an adapted model, merged or not, with its outputs"
    m = adapted()
    with torch.no_grad(): y = m(X)
    for merged in (False, True):
        if merged: merge_adapter(m)
        back = pickle.loads(pickle.dumps(m))
        assert [l.merged for l in hta_layers(back).values()] == [merged] * 4
        with torch.no_grad(): torch.testing.assert_close(back(X), y, rtol=1e-5, atol=1e-5)
        unmerge_adapter(back) if merged else None
        if merged:
            with torch.no_grad(): assert torch.equal(back(X), y)

def _dls():
    g = np.random.default_rng(0)
    x, y = g.integers(0, 256, (32, 28, 28), dtype=np.uint8), np.arange(32) % 5
    return make_dls(x[:24], y[:24], x[24:], y[24:], img_size=32, bs=8, device='cpu', classes=list('abcde'))

def test_learner_export_load_learner(tmp_path):
    "learn.export pickles a Learner built on make_dls; load_learner gives the same outputs, class names and adapter file"
    learn = hta_learner(_dls(), tiny_vit(), path=tmp_path)
    with learn.no_bar(), learn.no_logging(): learn.fit(1, lr=1e-3)
    learn.model.eval()
    with torch.no_grad(): y = learn.model(X)
    learn.export('learner.pkl')
    back = load_learner(tmp_path/'learner.pkl', cpu=True)
    m = back.model.eval()
    assert hta_layers(m) and m.hta_config == learn.model.hta_config and list(back.dls.vocab) == list('abcde')
    with torch.no_grad(): assert torch.equal(m(X), y)
    a, b = read_hta(learn.save_adapter(tmp_path/'a.safetensors')), read_hta(back.save_adapter(tmp_path/'b.safetensors'))
    assert a.tensors.keys() == b.tensors.keys() and all(torch.equal(a.tensors[k], b.tensors[k]) for k in a.tensors)
    assert a.info == b.info

# Dynamo's graph capture and AOT autograd (what meets HTA's autograd Function and hooks) without C++ code generation,
# which takes a minute on two cores; set HSVD_NB_COMPILE_BACKEND=inductor to run the full compiler (01_hta does, on a small net)
COMPILE_BACKEND = os.environ.get('HSVD_NB_COMPILE_BACKEND', 'aot_eager')

def test_torch_compile_outputs_and_grads():
    "torch.compile of an adapted model gives the eager outputs and the eager gradients of every trained parameter"
    eager, comp = adapted().train(), adapted().train()
    compiled = torch.compile(comp, backend=COMPILE_BACKEND)
    ye, yc = eager(X), compiled(X)
    torch.testing.assert_close(yc, ye, rtol=1e-4, atol=1e-4)
    ye.square().mean().backward(); yc.square().mean().backward()
    ge, gc = hta_params(eager), hta_params(comp)
    assert ge.keys() == gc.keys()
    for n in ge: torch.testing.assert_close(gc[n].grad, ge[n].grad, rtol=1e-3, atol=1e-5, msg=n)
    assert all(p.grad is None for n, p in comp.named_parameters() if n not in gc)

def test_torch_export_merged(tmp_path):
    "A merged model is a plain timm model that torch.export captures; the exported program (saved and loaded) gives its outputs"
    plain = merge_hta(adapted())
    with torch.no_grad(): y = plain(X)
    ep = torch.export.export(plain, (X,))
    torch.export.save(ep, tmp_path/'merged.pt2')
    back = torch.export.load(tmp_path/'merged.pt2')
    with torch.no_grad(): torch.testing.assert_close(back.module()(X), y, rtol=1e-5, atol=1e-5)

def test_merged_state_dict_loads_into_plain_timm(tmp_path):
    "The merged state_dict loads (strict) into timm.create_model(arch) in a process that never imports hsvd_nb"
    plain = merge_hta(adapted())
    with torch.no_grad(): y = plain(X)
    write_safetensors({k: v.contiguous() for k, v in plain.state_dict().items()}, tmp_path/'merged.safetensors')
    save_file({'x': X, 'y': y}, tmp_path/'io.safetensors')
    script = textwrap.dedent("""
        import sys, torch, timm
        from safetensors.torch import load_file
        m = timm.create_model('vit_tiny_patch16_224', pretrained=False, img_size=32, patch_size=4, depth=2, num_classes=5)
        m.load_state_dict(load_file('merged.safetensors'))     # strict: every key fits, none left over
        io = load_file('io.safetensors')
        with torch.no_grad(): torch.testing.assert_close(m.eval()(io['x']), io['y'], rtol=1e-5, atol=1e-5)
        assert not [k for k in sys.modules if k.startswith('hsvd_nb')], 'hsvd_nb was imported'
        print('ok')
        """)
    r = subprocess.run([sys.executable, '-c', script], cwd=tmp_path, env=ENV, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == 'ok', r.stderr[-3000:]

# ---------------------------------------------------------------- 5. concurrency

DRIVER = textwrap.dedent("""
    import hashlib, io, os, sys, time, zipfile
    from pathlib import Path
    import hsvd_nb.assets as assets
    payload = b'a complete asset ' * 50000
    assets.ASSETS['fake-asset'] = assets.Asset('pip', 'fake-asset==1.0', {'fake/data.bin': hashlib.sha256(payload).hexdigest()})
    log = Path(sys.argv[1])
    def download_package(a, dest):                    # the network fetch, simulated: slow, logged
        with open(log, 'a') as f: f.write(f'{os.getpid()}\\n')
        time.sleep(1.5)
        whl = dest/'fake_asset-1.0-py3-none-any.whl'
        with zipfile.ZipFile(whl, 'w') as z: z.writestr('fake/data.bin', payload)
        return whl
    assets.download_package = download_package
    ready = Path(sys.argv[2])
    ready.touch()
    t0 = time.time()
    while len(list(ready.parent.glob('ready-*'))) < int(sys.argv[3]) and time.time() < t0 + 60: time.sleep(0.01)   # start together
    p = assets.asset_file('fake-asset', 'data.bin', quiet=True)
    assert hashlib.sha256(p.read_bytes()).digest() == hashlib.sha256(payload).digest()
    print(p)
    """)

def _fetch(tmp:Path, n:int)->list[str]:
    "Run `n` driver processes at once; their printed paths"
    (tmp/'driver.py').write_text(DRIVER)
    sync = tmp/f'sync{len(list(tmp.glob("sync*")))}'; sync.mkdir()
    env = ENV | {'HSVD_NB_CACHE': str(tmp/'cache')}
    ps = [subprocess.Popen([sys.executable, str(tmp/'driver.py'), str(tmp/'downloads.log'), str(sync/f'ready-{i}'), str(n)],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(n)]
    try: outs = [p.communicate(timeout=180) for p in ps]
    finally:
        for p in ps:
            if p.poll() is None: p.kill()
    assert all(p.returncode == 0 for p in ps), [e[-2000:] for _, e in outs]
    return [o.strip() for o, _ in outs]

def test_concurrent_fetch_and_corrupt_cache(tmp_path):
    "Two processes fetching one asset at once: one download, one complete verified file, no temporary folders left; a corrupted cached file is detected by its sha256 and fetched again"
    paths = _fetch(tmp_path, 2)
    f = tmp_path/'cache'/'fake-asset'/'data.bin'
    assert paths == [str(f)] * 2
    assert len((tmp_path/'downloads.log').read_text().split()) == 1        # the second waited on the lock, then found it
    assert sorted(p.name for p in (tmp_path/'cache').iterdir()) == ['.fake-asset.lock', 'fake-asset']
    good = f.read_bytes()
    f.write_bytes(good[:-10] + b'corrupted!')                               # same size, different content
    assert _fetch(tmp_path, 1) == [str(f)]
    assert len((tmp_path/'downloads.log').read_text().split()) == 2         # fetched again
    assert f.read_bytes() == good
    assert sorted(p.name for p in (tmp_path/'cache').iterdir()) == ['.fake-asset.lock', 'fake-asset']
