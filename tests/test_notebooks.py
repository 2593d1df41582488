"Run every notebook in nbs/ through nbdev's test runner, one pytest test per notebook"
import os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
NBS = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if not p.name.startswith(('_', '.')))

def _flags()->str:
    "Flagged cells to run: `slow` by default (CI runs them), `gpu` when a GPU is present"
    flags = os.environ.get('HSVD_NB_TEST_FLAGS', 'slow').split()
    try:
        import torch
        if torch.cuda.is_available(): flags.append('gpu')
    except ImportError: pass
    return ' '.join(flags)

@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_notebook(nb):
    env = {**os.environ, 'HF_HUB_OFFLINE': '1'}
    cmd = [str(Path(sys.executable).parent/'nbdev-test'), str(nb), '--flags', _flags()]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0 and 'Success' in r.stdout, f"{nb.name} failed:\n{r.stdout[-4000:]}\n{r.stderr[-8000:]}"

def test_package_in_sync_with_notebooks():
    "The exported package equals what the notebooks export (nbdev-export changes nothing)"
    import filecmp, shutil, tempfile
    with tempfile.TemporaryDirectory() as d:
        shutil.copytree(ROOT, Path(d)/'repo', ignore=shutil.ignore_patterns('.venv', '.git', '_docs', '_proc', '*.egg-info', '__pycache__'))
        r = subprocess.run([str(Path(sys.executable).parent/'nbdev-export')], cwd=Path(d)/'repo', capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        for f in (ROOT/'hsvd_nb').glob('*.py'):
            assert filecmp.cmp(f, Path(d)/'repo'/'hsvd_nb'/f.name, shallow=False), f"hsvd_nb/{f.name} differs from its notebook: run nbdev-export"
