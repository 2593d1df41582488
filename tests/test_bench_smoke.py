"The accuracy benchmark end to end at its 'smoke' size: every method on two tasks, through bench/accuracy.py (numbers not asserted)"
import json, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_smoke(tmp_path):
    env = {**os.environ, 'HF_HUB_OFFLINE': '1'}
    r = subprocess.run([sys.executable, str(ROOT/'bench'/'accuracy.py'), '--preset', 'smoke', '--out', str(tmp_path)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"smoke benchmark failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    sys.path.insert(0, str(ROOT))
    from hsvd_nb.experiments.bench import METHODS, bench_preset
    recs = [json.loads(l) for l in (tmp_path/'results.jsonl').read_text().splitlines()]
    cfg = bench_preset('smoke')
    got = {(x['task'], x['method']) for x in recs if x['stage'] == 'final'}
    assert got == {(t, m) for t in cfg.tasks for m in METHODS}, "a final record per (method, task)"
    for x in recs:
        assert 0 <= x['acc'] <= 1 and x['seconds'] > 0 and x['params'] >= x['params_no_head'] >= 0
    report = (tmp_path/'report.md').read_text()
    assert all(f"| {m} |" in report for m in METHODS) and 'Machine:' in report and 'The claims' in report
    assert (tmp_path/'accuracy_vs_params.png').stat().st_size > 1000
