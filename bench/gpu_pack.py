#!/usr/bin/env python
"""Build the folder the GPU run needs beside the checkout (the GPU machine has no registry, no asset cache and no
fastai), at most 55 MiB:

    .venv/bin/python bench/gpu_pack.py --out gpu-pack        # here; then carry `gpu-pack` to the GPU machine

- dinov2_vits14_fp16.safetensors: the offline DINOv2-S/14 weights (`hsvd_nb.pretrained.dinov2_state_dict`) in float16;
- data/*.npz: exactly the splits the run's `protocol_data` calls return (uint8 images, int64 labels, compressed);
  the drawn tasks (dsprites-loc, count) are regenerated there from code and checked against the sha256 recorded here;
- wheels/: the pure-Python packages missing there (fastai and what it imports), at the versions installed here;
- manifest.json: every file's size and sha256 (bench/gpu_run.py refuses a pack that does not match), the splits,
  the tasks' checksums, and the versions.

Prints the size of the pack and of the checkout that travels with it (tracked and untracked, not ignored, files):
together they must stay under the 64 MiB a call may send."""
import argparse, hashlib, importlib.metadata as md, json, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT/'bench')]
os.environ.setdefault('HF_HUB_OFFLINE', '1')
from gpu_run import plan, split_keys, task_keys, split_file, arrays_sha256, file_sha256  # noqa: E402 (one plan for both)

MAX_PACK, MAX_SEND = 55 * 2**20, 64 * 2**20
WEIGHTS = 'dinov2_vits14_fp16.safetensors'
# Missing on the GPU machine (its package list: /work/.library/device/KINDS.md), imported by hsvd_nb's fastai paths;
# found by importing hsvd_nb.finetune, .cli and .experiments.bench with only that machine's packages visible.
# (sniffio and defusedxml: optional imports there, a few kB of insurance.) plum-dispatch is a compiled (mypyc) wheel.
WHEELS = ('fastai', 'fastcore', 'fastprogress', 'fasttransform', 'fastdownload', 'plum-dispatch', 'beartype',
          'python-fasthtml', 'starlette', 'itsdangerous', 'python-multipart', 'httpx2', 'httpcore2', 'truststore',
          'sniffio', 'defusedxml')
PLATFORMS = ('manylinux_2_28_x86_64', 'manylinux_2_27_x86_64', 'manylinux_2_17_x86_64', 'manylinux2014_x86_64')


def checkout_bytes()->int:
    "Bytes of the files a device call sends: tracked and untracked files that git does not ignore"
    r = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=ROOT, capture_output=True, check=True)
    return sum((ROOT/f).stat().st_size for f in r.stdout.decode().split('\0') if f and (ROOT/f).is_file())

def tree_bytes(d:Path)->int: return sum(p.stat().st_size for p in Path(d).rglob('*') if p.is_file())

def pack_weights(dest:Path, random_init:bool)->dict:
    "DINOv2-S/14 weights as float16 safetensors (random init: a test pack, no asset needed)"
    import torch
    from hsvd_nb.pretrained import dinov2_state_dict, dinov2_timm, save_checked, DINOV2_ASSET, DINOV2_ONNX
    if random_init:
        torch.manual_seed(0)
        sd, source = dinov2_timm(224).state_dict(), 'random init (a test pack)'
    else: sd, source = dinov2_state_dict(), f'{DINOV2_ASSET}==0.1.1 {DINOV2_ONNX}'
    save_checked({k: v.half() for k, v in sd.items()}, dest, source=source)
    return dict(file=dest.name, dtype='float16', params=sum(v.numel() for v in sd.values()), source=source)

def pack_splits(pack:Path, keys:list)->list:
    "One compressed .npz per `protocol_data` call, checked to give back exactly what the call returns"
    import numpy as np
    from hsvd_nb.datasets import protocol_data
    out = []
    for key in keys:
        d = protocol_data(*key)
        arrays = {f'{k}_{c}': v for k in ('train800', 'val200', 'train1000', 'test') for c, v in zip('xy', d[k])}
        if any(a.dtype != np.uint8 for n, a in arrays.items() if n.endswith('_x')): raise TypeError(f"{key}: images are not uint8")
        f = pack/split_file(key); f.parent.mkdir(exist_ok=True)
        np.savez_compressed(f, **arrays)
        with np.load(f) as z: same = all(np.array_equal(z[n], a) and z[n].dtype == a.dtype for n, a in arrays.items())
        if not same: raise RuntimeError(f"{f} does not read back as written")
        out.append(dict(key=list(key), file=split_file(key), images={k: len(d[k][0]) for k in d}))
    return out

def task_sums(keys:list)->list:
    "sha256 of each drawn task's splits, so the GPU side can check that it regenerates the same images"
    from hsvd_nb.experiments.tasks import task_splits
    return [dict(key=list(k), sha256=arrays_sha256(task_splits(*k))) for k in keys]

def pack_wheels(dest:Path, names=WHEELS, src:Path|None=None)->list:
    "The wheels of `names` at the versions installed here, for CPython 3.12 on x86-64 Linux (copied from `src` if given)"
    dest.mkdir(exist_ok=True)
    reqs = [f'{n}=={md.version(n)}' for n in names]
    if src: [shutil.copy(w, dest) for w in Path(src).glob('*.whl')]
    else:
        cmd = [sys.executable, '-m', 'pip', 'download', '-q', '--no-deps', '--only-binary=:all:', '--python-version', '3.12',
               '--implementation', 'cp', *[x for p in PLATFORMS for x in ('--platform', p)], '-d', str(dest), *reqs]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode: sys.exit(f"pip download failed: {r.stderr.strip()[-800:]}")
    got = sorted(w.name for w in dest.glob('*.whl'))
    norm = lambda s: s.lower().replace('-', '_').replace('.', '_')
    have = {(norm(w.split('-')[0]), w.split('-')[1]) for w in got}   # wheel names: name-version-tags.whl
    if miss := [r for r in reqs if (norm(r.split('==')[0]), r.split('==')[1]) not in have]:
        sys.exit(f"no wheel for {miss} in {dest}")
    return got

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default=str(ROOT/'gpu-pack'), help='the pack folder (replaced as a whole; default: gpu-pack in the checkout, git-ignored)')
    p.add_argument('--dry-run', action='store_true', help="the data of `gpu_run.py --dry-run` (tiny splits) instead of the GPU run's")
    p.add_argument('--random-weights', action='store_true', help='random-init weights of the same shapes (tests: no asset needed)')
    p.add_argument('--no-wheels', action='store_true', help='no wheels (where fastai is installed already, e.g. a CPU dry run)')
    p.add_argument('--wheels-from', help='copy the wheels from this folder instead of downloading them')
    a = p.parse_args(argv)
    t0, out = time.time(), Path(a.out).absolute()
    if out.exists() and not (out/'manifest.json').is_file() and any(out.iterdir()):
        sys.exit(f"--out {out} is a folder that holds no pack (no manifest.json): choose another folder")
    tmp = Path(tempfile.mkdtemp(prefix=f'.{out.name}.tmp', dir=out.parent))
    try:
        import numpy, torch
        manifest = dict(built=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), dry_run=a.dry_run, numpy=numpy.__version__,
                        torch=torch.__version__, commit=subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip(),
                        plan=plan(a.dry_run))
        manifest['weights'] = pack_weights(tmp/WEIGHTS, a.random_weights)
        print(f"weights: {manifest['weights']['params']:,} parameters, float16 ({manifest['weights']['source']})", flush=True)
        manifest['splits'] = pack_splits(tmp, split_keys(a.dry_run))
        for s in manifest['splits']: print(f"data: {s['file']} {s['images']}", flush=True)
        manifest['tasks'] = task_sums(task_keys(a.dry_run))
        for t in manifest['tasks']: print(f"drawn task (regenerated there, checked): {t['key']} sha256 {t['sha256'][:12]}…", flush=True)
        manifest['wheels'] = [] if a.no_wheels else pack_wheels(tmp/'wheels', src=a.wheels_from)
        if manifest['wheels']: print(f"wheels: {', '.join(manifest['wheels'])}", flush=True)
        manifest['files'] = {str(f.relative_to(tmp)): dict(size=f.stat().st_size, sha256=file_sha256(f))
                             for f in sorted(tmp.rglob('*')) if f.is_file()}
        (tmp/'manifest.json').write_text(json.dumps(manifest, indent=1) + '\n')
        size = tree_bytes(tmp)
        if size > MAX_PACK: sys.exit(f"the pack would take {size / 2**20:.1f} MiB, over the {MAX_PACK / 2**20:.0f} MiB it may take")
        if out.exists(): shutil.rmtree(out)
        os.replace(tmp, out)
    finally: shutil.rmtree(tmp, ignore_errors=True)
    co = checkout_bytes()
    print(f"pack: {out} — {size:,} bytes ({size / 2**20:.1f} MiB) in {len(manifest['files'])} files; "
          f"checkout: {co:,} bytes ({co / 2**20:.1f} MiB); together {(size + co) / 2**20:.1f} MiB of the {MAX_SEND / 2**20:.0f} MiB "
          f"a call may send ({time.time() - t0:.0f} s)")
    if size + co > MAX_SEND: print("WARNING: pack and checkout together exceed what a device call may send", file=sys.stderr)
    return manifest

if __name__ == '__main__': main()
