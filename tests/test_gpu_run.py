"""The GPU call's machinery, dry, on the CPU: bench/gpu_pack.py builds a tiny pack (the dry run's splits, random-init
weights of DINOv2-S/14's shapes, no wheels), then bench/gpu_run.py --dry-run runs every part through the same code
paths at tiny size: at most 8 files come back, every part is reported, a second call resumes the accuracy preset
without repeating a run, and a pack file altered after packing is refused by name"""
import json, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, 'HF_HUB_OFFLINE': '1'}

def _run(*args, timeout=300):
    r = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)
    return r, f"\n--- stdout\n{r.stdout[-4000:]}\n--- stderr\n{r.stderr[-4000:]}"

def _cell(src): return dict(cell_type='code', id=f'c{abs(hash(src)) % 10**6}', metadata={}, execution_count=None, outputs=[], source=src)

NOTEBOOK = dict(nbformat=4, nbformat_minor=5, metadata={}, cells=[   # what the cells part runs, and what it skips
    _cell('#| default_exp toy'), _cell('import math\nfrom pathlib import Path'),
    _cell('#| export\ndef twice(x): return 2 * x'),
    _cell('assert False, "an ordinary test cell: not part of the setup"'),
    _cell('#| slow\nassert False, "slow: skipped"'),
    _cell('#| gpu\nassert twice(2) == 4 and math.pi > 3'),
    _cell('#| gpu\n#| eval: false\nassert False'),
    _cell('#| gpu\nraise ValueError("boom")')])

def test_gpu_run_dry(tmp_path):
    pack, nbs, o1, o2, o3 = (tmp_path/n for n in ('pack', 'nbs', 'o1', 'o2', 'o3'))
    r, log = _run('bench/gpu_pack.py', '--out', pack, '--dry-run', '--random-weights', '--no-wheels')
    assert r.returncode == 0, log
    manifest = json.loads((pack/'manifest.json').read_text())
    assert {'dinov2_vits14_fp16.safetensors', 'manifest.json'} <= set(os.listdir(pack)) and manifest['splits'] and manifest['tasks']
    assert set(manifest['files']) == {str(p.relative_to(pack)) for p in pack.rglob('*') if p.is_file()} - {'manifest.json'}
    nbs.mkdir(); (nbs/'toy.ipynb').write_text(json.dumps(NOTEBOOK))

    r, log = _run('bench/gpu_run.py', '--pack', pack, '--out', o1, '--dry-run', '--budget-min', 4, '--nbs', nbs)
    assert r.returncode == 0, log
    files = [p for p in o1.rglob('*') if p.is_file()]
    assert len(files) <= 8, f"more than 8 files come back: {files}"
    s = json.loads((o1/'summary.json').read_text())
    parts = s['parts']
    assert list(parts) == ['setup', 'cells', 'speed', 'finetune', 'full'], parts
    assert {k: v['status'] for k, v in parts.items() if k != 'cells'} == dict.fromkeys(['setup', 'speed', 'finetune', 'full'], 'pass'), log
    assert [(c['status'], c.get('error')) for c in parts['cells']['cells']] == [('pass', None), ('skip', '#| eval: false'), ('fail', 'ValueError: boom')]
    assert parts['cells']['status'] == 'fail' and 'boom' in parts['cells']['error']
    assert s['elapsed_s'] < 4 * 60 and not parts['setup']['imports']['fastai'].startswith('MISSING')
    m = json.loads((o1/'finetune.json').read_text())
    assert 0 <= m['test_accuracy'] <= 1 and 0 <= m['linear_probe_accuracy'] <= 1 and m['n_train'] == 1000
    assert 'ms/step' in (o1/'speed.md').read_text() and json.loads((o1/'speed.json').read_text())['train']
    recs = [json.loads(l) for l in (o1/'results.jsonl').read_text().splitlines()]
    assert len(recs) == parts['full']['runs_planned'] == parts['full']['runs_new'] > 0
    assert '| hta |' in (o1/'full_report.md').read_text()

    # a second call resumes from the first one's results.jsonl: nothing is run again
    r, log = _run('bench/gpu_run.py', '--pack', pack, '--out', o2, '--dry-run', '--parts', 'full', '--resume-from', o1/'results.jsonl')
    assert r.returncode == 0, log
    full = json.loads((o2/'summary.json').read_text())['parts']['full']
    assert full['status'] == 'pass' and full['runs_new'] == 0 and full['runs_before'] == full['runs_after'] == len(recs), full
    assert (o2/'results.jsonl').read_text() == (o1/'results.jsonl').read_text()

    # a pack file changed after packing (same size): refused, naming it; the parts that need the pack do not run
    f = pack/manifest['splits'][0]['file']
    b = bytearray(f.read_bytes()); b[len(b) // 2] ^= 1; f.write_bytes(bytes(b))
    r, log = _run('bench/gpu_run.py', '--pack', pack, '--out', o3, '--dry-run', '--parts', 'finetune', timeout=60)
    assert r.returncode == 2, log
    assert f"pack file {manifest['splits'][0]['file']} fails its sha256 check" in r.stdout, log
    s = json.loads((o3/'summary.json').read_text())
    assert s['pack']['ok'] is False and s['parts']['finetune']['status'] == 'refused' and 'setup' not in s['parts']
