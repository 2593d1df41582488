#!/usr/bin/env python
"""Speed benchmark: an HTA training step side by side with the frozen-backbone floor, full fine-tuning,
peft LoRA and HRA, plus merged inference against the base model (see nbs/12_speed.ipynb).

    python bench/speed.py --device cpu  --out bench/results/speed-cpu    # ViT-S/14, 112 px, batch 32, float32, eager
    python bench/speed.py --device cuda --out bench/results/speed-cuda   # ViT-B/16, 224 px, batch 64, bf16, eager + compile
    python bench/speed.py --preset cuda --device cpu --img-size 32 --batch 2 --ops-only   # operators per step of the GPU setup, any machine

Runs from a checkout without installing the package (needs torch, timm, peft; not fastai or nbdev)."""
import argparse, os, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault('HF_HUB_OFFLINE', '1')


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default='auto', choices=['auto', 'cpu', 'cuda'], help='default: cuda if available')
    p.add_argument('--preset', choices=['cpu', 'cuda', 'tiny'], help="sizes; default: the device's ('tiny' for a smoke run)")
    p.add_argument('--out', help='folder for speed.md and speed.json (default: bench/results/speed-<preset>)')
    p.add_argument('--methods', help='comma-separated subset of floor,full,lora_qkv,lora_all,hra,hta,hta_adapter,hta_all')
    p.add_argument('--steps', type=int, help='timed steps per method and mode')
    p.add_argument('--warmup', type=int, help='untimed steps first (the first compiled one compiles)')
    p.add_argument('--stat', choices=['median', 'min'], help='figure reported (default: min on cpu, median on cuda)')
    p.add_argument('--batch', type=int)
    p.add_argument('--img-size', type=int)
    p.add_argument('--arch', help='timm architecture (random init)')
    p.add_argument('--compile', action=argparse.BooleanOptionalAction, default=None,
                   help='also time torch.compile (default: on for cuda, off for cpu)')
    p.add_argument('--compile-methods', help='comma-separated methods to compile, in priority order (default: the preset\'s)')
    p.add_argument('--budget', type=float, help='seconds after which no further model is compiled')
    p.add_argument('--no-infer', action='store_true', help='skip the inference timings')
    p.add_argument('--threads', type=int, help='torch CPU threads')
    p.add_argument('--check', action='store_true', help='first check the fast path against the reference on the device')
    p.add_argument('--amp', action=argparse.BooleanOptionalAction, default=None, help="bf16 autocast (default: the preset's)")
    p.add_argument('--ops-only', action='store_true', help='only count the operators of one step per method (writes ops.md, ops.json)')
    return p.parse_args(argv)


def main(argv=None):
    a = parse(argv)
    import torch
    from hsvd_nb.experiments.speed import speed_preset, run_speed, speed_markdown, write_results, check_device, op_counts, ops_markdown
    if a.threads: torch.set_num_threads(a.threads)
    device = ('cuda' if torch.cuda.is_available() else 'cpu') if a.device == 'auto' else a.device
    if device == 'cuda' and not torch.cuda.is_available(): sys.exit('--device cuda: CUDA is not available to this torch')
    name = a.preset or device
    kw = {k: v for k, v in dict(steps=a.steps, warmup=a.warmup, batch=a.batch, img_size=a.img_size, arch=a.arch,
                                compile=a.compile, budget_s=a.budget, stat=a.stat, amp=a.amp).items() if v is not None}
    if a.methods: kw['methods'] = tuple(m.strip() for m in a.methods.split(',') if m.strip())
    if a.compile_methods: kw['compile_methods'] = tuple(m.strip() for m in a.compile_methods.split(',') if m.strip())
    if a.no_infer: kw['infer'] = False
    cfg = speed_preset(name, device=device, **kw)
    out = Path(a.out or ROOT/'bench'/'results'/(f'ops-{name}-{device}' if a.ops_only else f'speed-{name}'))
    if a.ops_only:
        import json
        counts = op_counts(cfg)
        out.mkdir(parents=True, exist_ok=True)
        cmd = 'python bench/speed.py ' + ' '.join(argv if argv is not None else sys.argv[1:])
        (out/'ops.md').write_text(f'Produced by `{cmd}`\n\n' + ops_markdown(counts, cfg) + '\n')
        (out/'ops.json').write_text(json.dumps(dict(config=str(cfg), torch=torch.__version__, counts=counts), indent=1) + '\n')
        print(ops_markdown(counts, cfg)); print(f'written: {out/"ops.md"} {out/"ops.json"}')
        return counts
    failed = None
    if a.check:
        print('fast path vs reference (max relative difference):', flush=True)
        try:
            for k, v in check_device(device).items(): print(f'  {k:22s} {v:.2e}', flush=True)
        except Exception as e:   # report it loudly, time anyway, and fail at the end
            failed = f'{type(e).__name__}: {e}'
            print(f'CHECK FAILED: {failed}', flush=True)
    t0 = time.perf_counter()
    log = lambda s: print(f'[{time.perf_counter() - t0:6.0f} s] {s}', flush=True)
    def checkpoint(res):
        write_results(res, out)
        log(f'eager figures written to {out}')
    res = run_speed(cfg, log=log, checkpoint=checkpoint)
    md, js = write_results(res, out)
    print('\n' + speed_markdown(res) + '\n')
    print(f'written: {md} {js}')
    if failed: sys.exit(f'the fast-path check failed on {device}: {failed}')
    return res


if __name__ == '__main__': main()
