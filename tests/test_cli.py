"End-to-end runs of the installed `hsvd-nb` console script: exit status, the one-line message, and no files left behind"
import os, subprocess, sys
from pathlib import Path
import pytest

HSVD = str(Path(sys.executable).parent/'hsvd-nb')
ENV = {**os.environ, 'HF_HUB_OFFLINE': '1'}

def run(*argv, cwd=None):
    return subprocess.run([HSVD, *argv], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=600)

def test_demo_one_step_passes_and_says_what_it_checked():
    r = run('demo', '--steps', '1')
    assert r.returncode == 0, r.stderr
    assert 'checked: merged logits equal the adapted ones' in r.stdout and 'judged from --steps 2 on' in r.stdout

@pytest.mark.parametrize('flags,msg', [
    (['--wd', '-1'], "argument --wd: must be a finite number >= 0, got -1"),
    (['--wd', 'nan'], "argument --wd: must be a finite number >= 0, got nan"),
    (['--lr', 'inf'], "argument --lr: must be a finite number > 0, got inf"),
    (['--dropout', '1.5'], "argument --dropout: must be a finite number >= 0 and < 1, got 1.5"),
    (['--supplement-rank', '-2'], "argument --supplement-rank: must be an integer >= 0, got -2"),
    (['--epochs', '0'], "argument --epochs: must be a positive integer, got 0"),
])
def test_finetune_bad_flags_exit_2_and_write_nothing(tmp_path, flags, msg):
    r = run('finetune', '--dataset', 'digits', '--out', str(tmp_path/'run'), *flags, cwd=tmp_path)
    assert r.returncode == 2 and msg in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == []

def test_finetune_bad_input_is_one_line_and_writes_nothing(tmp_path):
    r = run('finetune', '--dataset', 'digits', '--img-size', '30', '--out', str(tmp_path/'run'), cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip().splitlines()[-1] == ("hsvd-nb finetune: error: img_size (--img-size) must be a positive multiple of the patch size 14 "
                                "(e.g. 112, 224, 518), got 30")
    assert list(tmp_path.iterdir()) == []

def test_merge_missing_file(tmp_path):
    r = run('merge', str(tmp_path/'nope.safetensors'), '--out', str(tmp_path/'m.safetensors'))
    assert r.returncode == 1 and "no adapter file at" in r.stderr and not (tmp_path/'m.safetensors').exists()
