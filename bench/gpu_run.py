#!/usr/bin/env python
"""Every GPU figure of the project in one call, from the checkout and a pack built by `bench/gpu_pack.py`, with
nothing from the network, stopping by itself inside the budget (installs included):

    python3 bench/gpu_run.py --pack gpu-pack --out $OUT                 # on the GPU machine, 9 minutes
    python bench/gpu_run.py --pack /tmp/p --out /tmp/o --dry-run --budget-min 2   # the same code paths, tiny, on a CPU

Parts, in priority order, each in its own process with its own time share (a failure is recorded, never fatal):
  setup     check the pack against its manifest, install its wheels into a private folder, put the DINOv2 weights
            (float16 in the pack, float32 again) into a private asset cache, and record what imports here
  cells     the `#| gpu` cells of the notebooks: the notebook's imports and exported cells, then each flagged cell
  speed     bench/speed.py: ViT-B/16, 224 px, batch 64, bf16, eager and compiled, peak memory
  finetune  hsvd_nb.finetune.finetune: DINOv2-S/14 at 224 px on Fashion-MNIST's 1,000 images (probe, HTA, wall time)
  full      the `full` accuracy preset (bench/accuracy.py) for the time left, resumed from --resume-from

At most 8 files are written under --out, as they come: summary.json (every part: status, seconds, error, details),
run.log, speed.md, speed.json, finetune.json, finetune_ranks.png, results.jsonl (the full preset, old runs
included) and full_report.md. Copy results.jsonl back to bench/results/full/results.jsonl in the checkout: the next
call resumes from there. Exit status: 0 when the run went through (parts may have failed: see summary.json),
2 when the pack fails its manifest (the parts that need it are refused), 3 on a bad argument.

The parent process uses the standard library only; the parts run as children (`--child NAME`)."""
import argparse, hashlib, inspect, json, os, re, shutil, signal, subprocess, sys, tempfile, threading, time, traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARTS = ('cells', 'speed', 'finetune', 'full')
SHARE = dict(setup=.10, cells=.08, speed=.42, finetune=.18)  # of the budget, at most; `full` takes what is left
FLOOR_S, RESERVE_S = 30, 12  # a part's smallest time share; seconds kept at the end for writing up
OUT_FILES = ('summary.json', 'run.log', 'speed.md', 'speed.json', 'finetune.json', 'finetune_ranks.png',
             'results.jsonl', 'full_report.md')  # the only files written under --out (8 come back)
NEEDS_PACK = ('cells', 'finetune', 'full')  # parts that use the pack's wheels, weights or data
BAR = re.compile(r'\|[█\-]{10,}\|\s+[\d.]+% \[')  # a fastprogress bar in console mode

# ------------------------------------------------------------------------------------------------------------
# What runs: one plan for the GPU and one for the dry run. `bench/gpu_pack.py` packs exactly what these use.

def plan(dry:bool)->dict:
    "The fine-tune arguments, the accuracy preset's overrides and the cells' data of one run"
    if not dry:
        return dict(finetune=dict(dataset='fashion-mnist', model='dinov2_s14_offline', img_size=224, seed=0, n_test=2000),
                    full=dict(),  # bench_preset('full') as it is
                    speed=['--device', 'cuda', '--check', '--no-infer'],  # training steps; bench/gpu_check.sh times inference too
                    cell_splits=[('digits', 0, 800, 200, 500, 0)])  # the `#| gpu` cell of 03b_data: dataset_dls('digits', n_test=500)
    return dict(finetune=dict(dataset='digits', model='tiny', img_size=16, seed=0, n_test=50, epochs=1, bs=128),
                full=dict(name='dry-run', tasks=('digits', 'count'), methods=('linear', 'hta'), seeds=(0,), epochs=1,
                          depth=1, img_size=28, task_size=28, n_train=40, n_val=10, n_test=50, bs=16, device='cpu',
                          threads=1, bf16=False, lrs=dict(head=(1e-2,), adapter=(3e-3, 1e-2))),
                speed=['--preset', 'tiny', '--device', 'cpu', '--threads', '1'],
                cell_splits=[])

def bench_config(dry:bool):
    from dataclasses import replace
    from hsvd_nb.experiments.bench import bench_preset
    kw = dict(plan(dry)['full'])
    name = kw.pop('name', 'full')
    return replace(bench_preset('full', **kw), name=name)

def split_keys(dry:bool)->list:
    "(dataset, seed, n_train, n_val, n_test, test_seed) of every `protocol_data` call of the run on a built-in dataset"
    from hsvd_nb.datasets import DATASETS
    from hsvd_nb.experiments.tasks import N_CLASSES
    p, cfg = plan(dry), bench_config(dry)
    ft = p['finetune']
    keys = [(ft['dataset'], ft['seed'], 800, 200, ft['n_test'], 0)] if ft['dataset'] in DATASETS else []
    keys += [(t, 0, cfg.n_train, cfg.n_val, cfg.n_test, 0) for t in cfg.tasks if t not in N_CLASSES]
    return list(dict.fromkeys(keys + [tuple(k) for k in p['cell_splits']]))

def task_keys(dry:bool)->list:
    "(task, n, n_test, size, seed) of every `task_splits` call of the accuracy preset (drawn tasks, regenerated)"
    from hsvd_nb.experiments.tasks import N_CLASSES
    cfg = bench_config(dry)
    return [(t, cfg.n_train + cfg.n_val, cfg.n_test, cfg.task_size, 0) for t in cfg.tasks if t in N_CLASSES]

def split_file(key)->str: return 'data/{}_s{}_{}_{}_{}_t{}.npz'.format(*key)

def arrays_sha256(arrays)->str:
    "sha256 over the dtypes, shapes and bytes of a nest of numpy arrays (tuples, lists, dicts in key order)"
    import numpy as np
    h = hashlib.sha256()
    def walk(o):
        if isinstance(o, dict): [walk((k, o[k])) for k in sorted(o)]
        elif isinstance(o, (tuple, list)): [walk(v) for v in o]
        elif isinstance(o, np.ndarray):
            h.update(f'{o.dtype}|{o.shape}|'.encode()); h.update(np.ascontiguousarray(o).tobytes())
        else: h.update(repr(o).encode())
    walk(arrays)
    return h.hexdigest()

# ------------------------------------------------------------------------------------------------------------
# The pack: a manifest of every file's size and sha256, checked before anything is used

def file_sha256(path:Path)->str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''): h.update(chunk)
    return h.hexdigest()

def check_pack(pack:Path)->tuple:
    "(manifest, problems): each problem one sentence naming the pack file that is missing or altered"
    m = pack/'manifest.json'
    if not m.is_file(): return None, [f"{m} is missing: build the pack with `python bench/gpu_pack.py --out {pack}`"]
    try: manifest = json.loads(m.read_text())
    except ValueError as e: return None, [f"{m} is not valid JSON ({e})"]
    bad = []
    for rel, want in manifest['files'].items():
        p = pack/rel
        if not p.is_file(): bad.append(f"pack file {rel} is missing"); continue
        if p.stat().st_size != want['size']: bad.append(f"pack file {rel} has {p.stat().st_size} bytes, the manifest says {want['size']}"); continue
        if (h := file_sha256(p)) != want['sha256']: bad.append(f"pack file {rel} fails its sha256 check (manifest {want['sha256'][:12]}…, file {h[:12]}…)")
    return manifest, bad

# ------------------------------------------------------------------------------------------------------------
# Children: each part in its own process (`--child NAME`), its result in WORK/NAME.json

def patch_data(pack:Path, manifest:dict):
    "Serve the pack's splits to every loaded `protocol_data`, and check regenerated drawn tasks against the pack"
    import numpy as np
    splits = {tuple(s['key']): s['file'] for s in manifest.get('splits', [])}
    tasks = {tuple(t['key']): t['sha256'] for t in manifest.get('tasks', [])}
    def packed_data(orig):
        sig = inspect.signature(orig)
        def protocol_data(*a, **kw):
            b = sig.bind(*a, **kw); b.apply_defaults()
            key = tuple(b.arguments[k] for k in ('name', 'seed', 'n_train', 'n_val', 'n_test', 'test_seed'))
            if key not in splits: return orig(*a, **kw)   # not packed: the asset cache (absent on the GPU machine)
            with np.load(pack/splits[key]) as z:
                return {k: (z[f'{k}_x'], z[f'{k}_y']) for k in ('train800', 'val200', 'train1000', 'test')}
        protocol_data.packed = True
        return protocol_data
    def checked_task(orig):
        sig = inspect.signature(orig)
        def task_splits(*a, **kw):
            b = sig.bind(*a, **kw); b.apply_defaults()
            key, out = tuple(b.arguments.values()), orig(*a, **kw)
            if key in tasks and arrays_sha256(out) != tasks[key]:
                import numpy
                raise RuntimeError(f"drawn task {key[0]!r} regenerated here (numpy {numpy.__version__}) differs from the one "
                                   f"the pack was built with (numpy {manifest.get('numpy')}): its results would not be comparable")
            return out
        task_splits.packed = True
        return task_splits
    wrap = dict(protocol_data=packed_data, task_splits=checked_task)
    def apply(ns:dict):
        for name, w in wrap.items():
            f = ns.get(name)
            if callable(f) and not getattr(f, 'packed', False): ns[name] = w(f)
    for mod in [m for n, m in list(sys.modules.items()) if n.startswith('hsvd_nb') and m is not None]: apply(vars(mod))
    return apply

def child_setup(a, manifest, res):
    "Weights into the private asset cache; what imports here"
    import importlib
    res['imports'] = imports = {}
    for m in ('torch', 'timm', 'peft', 'numpy', 'pandas', 'matplotlib', 'scipy', 'sklearn', 'fastcore', 'fastprogress',
              'fastai', 'hsvd_nb.experiments.speed', 'hsvd_nb.learner', 'hsvd_nb.finetune', 'hsvd_nb.experiments.bench'):
        try: imports[m] = getattr(mod := importlib.import_module(m), '__version__', 'ok') + f" ({Path(mod.__file__).parent})"
        except Exception as e: imports[m] = f'MISSING: {type(e).__name__}: {e}'
    import torch
    res['device'] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu (no CUDA)'
    res['torch'], res['python'] = torch.__version__, sys.version.split()[0]
    from hsvd_nb.pretrained import load_checked, save_checked, DINOV2_FILE
    w = manifest['weights']
    sd = load_checked(Path(a.pack)/w['file'])
    if sd is None: raise RuntimeError(f"pack file {w['file']} cannot be read as checked safetensors")
    dest = Path(os.environ['HSVD_NB_CACHE'])/DINOV2_FILE
    save_checked({k: v.float() for k, v in sd.items()}, dest, source=f"{w['source']} (float16 in the pack, float32 again)")
    res['weights'] = f"{w['file']} ({w['dtype']}, {w['params']:,} parameters) → {dest}"
    missing = [m for m, v in imports.items() if str(v).startswith('MISSING')]
    if missing: print(f"setup: these do not import here: {', '.join(missing)} (the parts that need them will fail, naming them)")

def gpu_cells(nb:Path)->list:
    "(cell id, source) of the code cells of a notebook, and the indices of its `#| gpu` cells"
    cells = [(c.get('id', str(i)), ''.join(c['source'])) for i, c in enumerate(json.loads(nb.read_text())['cells'])
             if c['cell_type'] == 'code']
    return cells, [i for i, (_, s) in enumerate(cells) if 'gpu' in directives(s).get('flags', ())]

def directives(src:str)->dict:
    "The `#| ` directives of a cell: flags (e.g. gpu, slow, export) and options (e.g. eval: false)"
    d = dict(flags=set())
    for line in src.splitlines():
        if not line.startswith('#|'): continue
        body = line[2:].strip()
        if ':' in body: k, v = body.split(':', 1); d[k.strip()] = v.strip()
        else: d['flags'].update(body.split())
    return d

def setup_statements(src:str)->list|None:
    "The statements of a cell that builds the notebook's namespace: an exported cell (whole), an import-only cell (one statement each); else None"
    import ast
    code = '\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('%', '!')))
    d = directives(src)
    if d['flags'] & {'export', 'exports', 'exporti'}: return [code]
    try: tree = ast.parse(code)
    except SyntaxError: return None
    if tree.body and all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in tree.body): return [ast.unparse(s) for s in tree.body]
    return None

def child_cells(a, manifest, res, apply):
    "Per notebook with `#| gpu` cells: its imports and exported cells, then each flagged cell; pass/fail per cell"
    res['cells'] = out = []
    nbs = sorted(Path(a.nbs).glob('*.ipynb'))
    def save(): Path(a.work, 'cells.json').write_text(json.dumps(res, indent=1, default=str))
    for nb in nbs:
        cells, flagged = gpu_cells(nb)
        if not flagged: continue
        ns, setup_err = {'__name__': '__main__'}, []
        os.chdir(nb.parent)
        for i, (cid, src) in enumerate(cells[:flagged[-1]]):
            d = directives(src)
            if d.get('eval') == 'false' or (d['flags'] & {'slow', 'gpu'}) or (stm := setup_statements(src)) is None: continue
            for s in stm:
                try: exec(compile(s, f'{nb.name}:{cid}', 'exec'), ns)
                except Exception as e: setup_err.append(f"{cid}: {type(e).__name__}: {e}")
        apply(ns)
        res.setdefault('setup_errors', {})[nb.name] = setup_err   # e.g. a cell importing nbdev, absent on the GPU machine
        for i in flagged:
            cid, src = cells[i]
            r = dict(notebook=nb.name, cell=cid, first_line=next((l for l in src.splitlines() if not l.startswith('#|')), ''))
            if directives(src).get('eval') == 'false': out.append(r | dict(status='skip', error='#| eval: false')); save(); continue
            code = '\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('%', '!')))
            t = time.perf_counter()
            try: exec(compile(code, f'{nb.name}:{cid}', 'exec'), ns); r['status'] = 'pass'
            except Exception as e:
                r['status'], r['error'] = 'fail', f"{type(e).__name__}: {e}"
                r['traceback'] = traceback.format_exc().splitlines()[-8:]
            r['seconds'] = round(time.perf_counter() - t, 2)
            out.append(r); save()
            print(f"cells: {nb.name} {cid} {r['status']} {r.get('error', '')}", flush=True)
    os.chdir(ROOT)
    if not out: res['note'] = f"no `#| gpu` cells in {a.nbs}"
    fails = [r for r in out if r['status'] == 'fail']
    if fails: raise RuntimeError(f"{len(fails)} of {len(out)} gpu cells failed: " + '; '.join(f"{r['notebook']} {r['cell']}: {r['error']}" for r in fails))

def child_finetune(a, manifest, res, apply):
    "hsvd_nb.finetune.finetune on the pack's data (the CLI's path), its metrics and rank figure"
    import torch
    from hsvd_nb.finetune import finetune
    apply({})
    kw = dict(plan(a.dry_run)['finetune'])
    if kw['model'] == 'tiny':   # the dry run: a random-init test ViT stands in for DINOv2
        import timm
        kw['model'] = timm.create_model('vit_tiny_patch16_224', pretrained=False, num_classes=0, img_size=kw['img_size'], patch_size=4, depth=2)
    dev = 'cuda' if torch.cuda.is_available() and not a.dry_run else 'cpu'
    m = finetune(**kw, out=Path(a.work)/'finetune', device=dev, quiet=False)
    res['metrics'] = m
    print(f"finetune: HTA test accuracy {m['test_accuracy']:.4f}, linear probe {m['linear_probe_accuracy']:.4f}, {m['seconds']:.0f} s", flush=True)

def child_full(a, manifest, res, apply):
    "The `full` accuracy preset until its time share ends (resumable), then its report"
    from hsvd_nb.experiments.bench import run_bench, read_jsonl, write_report, plan_size
    apply({})
    cfg, out = bench_config(a.dry_run), Path(a.work)/'full'
    before = len(read_jsonl(out/'results.jsonl'))
    records = run_bench(cfg, out, log=lambda s: print(s, flush=True), budget_s=a.budget_s)
    res.update(runs_before=before, runs_after=len(records), runs_new=len(records) - before, runs_planned=plan_size(cfg)['runs'])
    try: write_report(records, cfg, out, f'python bench/gpu_run.py{" --dry-run" if a.dry_run else ""} (part full)')
    except Exception as e: res['report_error'] = f"{type(e).__name__}: {e}"

def child(a):
    "Run one part; write WORK/NAME.json with its outcome (the parent reads it)"
    res, path = dict(part=a.child), Path(a.work)/f'{a.child}.json'
    try:
        manifest = json.loads((Path(a.pack)/'manifest.json').read_text())
        if a.child == 'setup': child_setup(a, manifest, res)
        else:
            import warnings; warnings.filterwarnings('ignore', category=FutureWarning)
            try: import hsvd_nb.datasets, hsvd_nb.data, hsvd_nb.experiments.tasks  # noqa: F401 (loaded, then patched)
            except ImportError:
                if a.child != 'cells': raise   # the cells report their own import errors
            if a.child in ('finetune', 'full'): import hsvd_nb.finetune, hsvd_nb.experiments.bench  # noqa: F401
            apply = patch_data(Path(a.pack), manifest)
            dict(cells=child_cells, finetune=child_finetune, full=child_full)[a.child](a, manifest, res, apply)
        res['status'] = 'pass'
    except BaseException as e:
        res.update(status='fail', error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc().splitlines()[-12:])
        print(f"{a.child}: FAILED: {res['error']}", flush=True)
    path.write_text(json.dumps(res, indent=1, default=str))

# ------------------------------------------------------------------------------------------------------------
# The parent: time shares, children, and the files under --out

class Run:
    def __init__(self, a):
        self.a, self.t0 = a, time.monotonic()
        self.deadline = self.t0 + 60 * a.budget_min
        self.out, self.pack = Path(a.out), Path(a.pack).resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.work = Path(a.work or tempfile.mkdtemp(prefix='hsvd-gpu-run-')).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.logf = open(self.out/'run.log', 'a', buffering=1)
        self.summary = dict(command=' '.join([Path(sys.argv[0]).name] + sys.argv[1:]), dry_run=a.dry_run,
                            budget_s=60 * a.budget_min, started=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), parts={})
        self.lock = threading.Lock()

    def say(self, s:str):
        with self.lock:
            line = f"[{time.monotonic() - self.t0:6.1f} s] {s}"
            print(line, flush=True); self.logf.write(line + '\n')

    def write_summary(self):
        self.summary['elapsed_s'] = round(time.monotonic() - self.t0, 1)
        tmp = self.out/'.summary.json.tmp'
        tmp.write_text(json.dumps(self.summary, indent=1, default=str)); os.replace(tmp, self.out/'summary.json')

    def left(self)->float: return self.deadline - RESERVE_S - time.monotonic()

    def cap(self, part:str)->float:
        share = SHARE.get(part)
        return self.left() if share is None else min(max(share * 60 * self.a.budget_min, FLOOR_S), self.left())

    def env(self)->dict:
        site = str(self.work/'site')
        pp = os.pathsep.join([str(ROOT), site] + ([os.environ['PYTHONPATH']] if os.environ.get('PYTHONPATH') else []))
        return {**os.environ, 'PYTHONPATH': pp, 'HSVD_NB_CACHE': str(self.work/'cache'), 'HF_HUB_OFFLINE': '1',
                'PYTHONUNBUFFERED': '1', 'MPLBACKEND': 'Agg', 'TOKENIZERS_PARALLELISM': 'false'} | \
               ({'OMP_NUM_THREADS': '1'} if self.a.dry_run else {})

    def spawn(self, cmd:list, limit:float, name:str, tick=None)->tuple:
        "Run `cmd` in its own process group for at most `limit` seconds, its output into the log; (returncode, timed_out)"
        p = subprocess.Popen(cmd, cwd=ROOT, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, errors='replace', start_new_session=True)
        def pump():
            for line in p.stdout:
                if not (BAR.search(line) and '100.00%' not in line): self.say(f"{name}| {line.rstrip()}")  # progress bars: the last state only
        th = threading.Thread(target=pump, daemon=True); th.start()
        end, timed_out = time.monotonic() + limit, False
        try:
            while p.poll() is None:
                if time.monotonic() > end:
                    timed_out = True
                    self.say(f"{name}: its time share of {limit:.0f} s is spent: stopping it")
                    self.kill(p); break
                time.sleep(0.5)
                if tick: tick()
        finally:
            if p.poll() is None: self.kill(p)
        th.join(5)
        return p.returncode, timed_out

    @staticmethod
    def kill(p):
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try: os.killpg(p.pid, sig)
            except ProcessLookupError: return
            try: p.wait(wait); return
            except subprocess.TimeoutExpired: pass

    def part(self, name:str, fn):
        "Run one part under its time share; record status, seconds and error in summary.json; never raise"
        t, rec = time.monotonic(), self.summary['parts'].setdefault(name, {})
        limit = self.cap(name)
        if limit < 5:
            rec.update(status='skip', error=f"no time left in the budget ({self.left():.0f} s)"); self.write_summary()
            self.say(f"{name}: skipped, no time left"); return
        self.say(f"== {name} (at most {limit:.0f} s)")
        rec.update(status='running', limit_s=round(limit)); self.write_summary()
        try: fn(limit, rec)
        except Exception as e: rec.update(status='fail', error=f"{type(e).__name__}: {e}")
        rec['seconds'] = round(time.monotonic() - t, 1)
        self.say(f"{name}: {rec['status']}{' — ' + str(rec['error']) if rec.get('error') else ''} ({rec['seconds']} s)")
        self.write_summary()

    def run_child(self, name:str, limit:float, rec:dict, tick=None, extra=()):
        cmd = [sys.executable, str(Path(__file__).resolve()), '--child', name, '--pack', str(self.pack), '--out', str(self.out),
               '--work', str(self.work), '--nbs', str(Path(self.a.nbs).resolve()), *extra] + (['--dry-run'] if self.a.dry_run else [])
        (self.work/f'{name}.json').unlink(missing_ok=True)
        rc, timed_out = self.spawn(cmd, limit, name, tick)
        res = json.loads((self.work/f'{name}.json').read_text()) if (self.work/f'{name}.json').exists() else {}
        if name == 'cells' and not res and (self.work/'cells.json').exists(): res = json.loads((self.work/'cells.json').read_text())
        res.pop('part', None)
        rec.update(res)
        if timed_out: rec.update(status='timeout', error=f"stopped after its time share of {limit:.0f} s")
        elif not res: rec.update(status='fail', error=f"the child process ended with status {rc} and wrote no result")
        return res

    # -- the parts
    def setup(self, limit, rec):
        wheels = sorted((self.pack/'wheels').glob('*.whl'))
        site = self.work/'site'
        if wheels:
            t = time.monotonic()
            cmd = [sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--no-index', '--no-compile', '--no-cache-dir',
                   '--disable-pip-version-check', '--upgrade', '--target', str(site), *map(str, wheels)]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=max(10, limit / 2))
            if r.returncode:   # no pip here: a wheel is a zip archive of the files a --target install would write
                self.say(f"setup: pip install failed ({r.stderr.strip().splitlines()[-1:] or r.returncode}); unzipping the wheels instead")
                import zipfile
                for w in wheels: zipfile.ZipFile(w).extractall(site)
            rec['wheels'] = f"{len(wheels)} wheels into {site} in {time.monotonic() - t:.1f} s"
            self.say(f"setup: {rec['wheels']}")
        self.run_child('setup', limit - 5, rec)

    def cells(self, limit, rec): self.run_child('cells', limit, rec)

    def speed(self, limit, rec):
        d = self.work/'speed'
        budget = max(10, min(0.65 * limit, limit - 75))   # no compile starts after this: the last one has time to finish
        extra = plan(self.a.dry_run)['speed'] + ['--budget', f'{budget:.0f}', '--out', str(d)]
        def copy():
            for f in ('speed.md', 'speed.json'):
                if (d/f).exists() and (not (self.out/f).exists() or (d/f).stat().st_mtime > (self.out/f).stat().st_mtime): shutil.copy(d/f, self.out/f)
        rc, timed_out = self.spawn([sys.executable, str(ROOT/'bench'/'speed.py'), *extra], limit, 'speed', tick=copy)
        copy()
        got = (self.out/'speed.json').exists()
        rec.update(status='pass' if rc == 0 else 'timeout' if timed_out else 'fail', table=str(self.out/'speed.md') if got else None)
        if rc: rec['error'] = ('stopped after its time share' if timed_out else f'bench/speed.py ended with status {rc}') + \
                              ('; the eager table so far is in speed.md' if got else '; no table was written')

    def finetune(self, limit, rec):
        res = self.run_child('finetune', limit, rec)
        d = self.work/'finetune'
        if (d/'metrics.json').exists(): shutil.copy(d/'metrics.json', self.out/'finetune.json')
        if (d/'ranks.png').exists(): shutil.copy(d/'ranks.png', self.out/'finetune_ranks.png')
        rec.pop('metrics', None)
        if 'metrics' in res: rec['result'] = {k: res['metrics'].get(k) for k in ('test_accuracy', 'linear_probe_accuracy', 'seconds', 'device', 'img_size', 'n_train', 'n_test')}

    def full(self, limit, rec):
        d = self.work/'full'; d.mkdir(exist_ok=True)
        src = Path(self.a.resume_from) if self.a.resume_from else None
        if src and src.is_file() and not (d/'results.jsonl').exists():
            shutil.copy(src, d/'results.jsonl'); rec['resumed_from'] = str(src)
        def copy():
            if (d/'results.jsonl').exists():   # whole lines only: a stopped run may leave half of one
                lines = [l for l in (d/'results.jsonl').read_text().splitlines() if _json_ok(l)]
                tmp = self.out/'.results.jsonl.tmp'; tmp.write_text(''.join(l + '\n' for l in lines)); os.replace(tmp, self.out/'results.jsonl')
        margin = max(20., 0.1 * limit)   # the runs' own budget stops before the hard stop, finishing the run in flight
        self.run_child('full', limit, rec, tick=copy, extra=['--budget-s', f'{max(1., limit - margin):.0f}'])
        copy()
        if (d/'report.md').exists(): shutil.copy(d/'report.md', self.out/'full_report.md')

    def main(self)->int:
        a = self.a
        self.say(f"gpu_run: pack {self.pack}, out {self.out}, work {self.work}, budget {a.budget_min:g} min"
                 f"{', DRY RUN (CPU, tiny)' if a.dry_run else ''}, parts {', '.join(a.parts)}")
        manifest, bad = check_pack(self.pack)
        self.summary['pack'] = dict(ok=not bad, problems=bad, built=(manifest or {}).get('built'), commit=(manifest or {}).get('commit'))
        if bad:
            for b in bad: self.say(f"PACK REFUSED: {b}")
        else:
            self.part('setup', self.setup)
        setup_ok = not bad and self.summary['parts'].get('setup', {}).get('status') == 'pass'
        for name in a.parts:
            if name in NEEDS_PACK and not setup_ok:
                why = f"the pack was refused: {bad[0]}" if bad else f"setup failed: {self.summary['parts'].get('setup', {}).get('error')}"
                self.summary['parts'][name] = dict(status='refused', error=why); self.say(f"{name}: refused — {why}")
                self.write_summary(); continue
            self.part(name, getattr(self, name))
        self.say('summary: ' + ', '.join(f"{k} {v['status']}" for k, v in self.summary['parts'].items()))
        self.write_summary()
        extra = sorted(str(p.relative_to(self.out)) for p in self.out.rglob('*') if p.is_file() and p.name not in OUT_FILES)
        if extra: self.say(f"note: files under --out beyond the {len(OUT_FILES)} expected: {extra}")
        self.logf.close()
        if not a.keep_work and not a.work: shutil.rmtree(self.work, ignore_errors=True)
        return 2 if bad else 0

def _json_ok(line:str)->bool:
    try: json.loads(line); return True
    except ValueError: return False

def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--pack', required=True, help='the folder bench/gpu_pack.py wrote')
    p.add_argument('--out', required=True, help='folder for the (at most 8) result files')
    p.add_argument('--budget-min', type=float, default=9., help='wall-clock minutes for everything, installs included (default 9)')
    p.add_argument('--parts', default=','.join(PARTS), help=f'comma-separated subset of {",".join(PARTS)}, run in that order')
    p.add_argument('--resume-from', default=None, help='results.jsonl of earlier calls of the full preset '
                   '(default: bench/results/full/results.jsonl in the checkout; none in a dry run)')
    p.add_argument('--nbs', default=str(ROOT/'nbs'), help='folder of the notebooks whose `#| gpu` cells run')
    p.add_argument('--dry-run', action='store_true', help='tiny sizes on the CPU: the same code paths, for tests')
    p.add_argument('--work', default=None, help='scratch folder (default: a new temporary one, removed at the end)')
    p.add_argument('--keep-work', action='store_true', help='keep the temporary scratch folder')
    p.add_argument('--child', choices=('setup',) + PARTS, help=argparse.SUPPRESS)
    p.add_argument('--budget-s', type=float, default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.parts = tuple(x.strip() for x in a.parts.split(',') if x.strip())
    if bad := [x for x in a.parts if x not in PARTS]: p.error(f"--parts: unknown {bad}; use a subset of {','.join(PARTS)}")
    if not (0 < a.budget_min <= 60): p.error(f"--budget-min must be in (0, 60], got {a.budget_min}")
    if a.resume_from is None and not a.dry_run and (ROOT/'bench'/'results'/'full'/'results.jsonl').is_file():
        a.resume_from = str(ROOT/'bench'/'results'/'full'/'results.jsonl')
    return a

def main(argv=None)->int:
    try: a = parse(argv)
    except SystemExit as e: return 3 if e.code else 0
    if a.child:
        sys.path[:0] = [str(ROOT)]
        child(a); return 0
    return Run(a).main()

if __name__ == '__main__': sys.exit(main())
