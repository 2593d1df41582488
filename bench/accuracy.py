#!/usr/bin/env python
"""Accuracy benchmark: HTA, its ablations, peft LoRA / HRA / AdaLoRA and the classic baselines under one
protocol (lr chosen on val200, retrain on train1000, final-epoch test accuracy, 3 seeds); see nbs/11_bench.ipynb.

    python bench/accuracy.py --preset smoke --out /tmp/smoke          # CI: tiny random ViT, every method, ~1 min
    python bench/accuracy.py --preset cpu   --out bench/results/cpu   # DINOv2-S/14 (4 blocks, 28 px), ~20-30 min on 2 cores
    python bench/accuracy.py --preset full  --out bench/results/full --budget-min 9  # DINOv2-S/14, 112 px, GPU: sized for <= 10 min on an H100
    python bench/accuracy.py --preset ablate --plan                   # issue 15's training-recipe ablations at the medium size: their cost
    python bench/accuracy.py --preset ablate-e10                      # the same at 10 epochs, for lora-qkv and hta (the epochs lever)

Writes OUT/results.jsonl (one line per run; an interrupted run resumes), OUT/report.md, OUT/accuracy_vs_params.png
and OUT/config.json. Runs from a checkout without installing the package."""
import argparse, os, sys, warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault('HF_HUB_OFFLINE', '1')


def _tuple(s, f=str): return tuple(f(x) for x in s.split(',')) if s else None


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--preset', default='cpu', choices=['smoke', 'cpu', 'medium', 'ablate', 'ablate-e10', 'full'])
    p.add_argument('--out', help='results folder (default: bench/results/<preset>)')
    p.add_argument('--tasks', help='comma-separated subset of the preset\'s tasks')
    p.add_argument('--methods', help='comma-separated subset of the methods (default: all)')
    p.add_argument('--seeds', help='comma-separated training seeds, e.g. 0,1,2')
    p.add_argument('--epochs', type=int)
    p.add_argument('--device', help='cpu or cuda (default: the preset\'s, else cuda if available)')
    p.add_argument('--threads', type=int, help='torch CPU threads')
    p.add_argument('--budget-min', type=float, help='start no new run after this many minutes (run again to resume)')
    p.add_argument('--plan', action='store_true', help='print the size of the run and exit')
    p.add_argument('--report-only', action='store_true', help='rewrite the report from OUT/results.jsonl, run nothing')
    return p.parse_args(argv)


def main(argv=None):
    a = parse(argv)
    warnings.filterwarnings('ignore', category=FutureWarning)
    from hsvd_nb.experiments.bench import bench_preset, plan_size, run_bench, read_jsonl, write_report
    cfg = bench_preset(a.preset, tasks=_tuple(a.tasks), methods=_tuple(a.methods), seeds=_tuple(a.seeds, int),
                 epochs=a.epochs, device=a.device, threads=a.threads)
    out = Path(a.out or ROOT/'bench'/'results'/a.preset)
    if a.plan: print(cfg, plan_size(cfg), sep='\n'); return
    args = argv if argv is not None else sys.argv[1:]
    cmd = 'python bench/accuracy.py ' + ' '.join(x for x in args if x != '--report-only')
    if a.report_only: cmd += '`; the report rewritten from its results.jsonl by the same command with `--report-only'
    records = read_jsonl(out/'results.jsonl') if a.report_only else run_bench(cfg, out, log=lambda s: print(s, flush=True),
                                                                              budget_s=a.budget_min and 60 * a.budget_min)
    if not records: sys.exit(f"no results in {out/'results.jsonl'}")
    print(write_report(records, cfg, out, cmd).read_text())


if __name__ == '__main__': main()
