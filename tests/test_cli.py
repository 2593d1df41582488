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

def _pictures(folder, n=3):
    from PIL import Image
    import numpy as np
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):                                                       # gray and RGB, mixed sizes
        a = np.random.default_rng(i).integers(0, 256, (30, 20 + 3*i, 3), np.uint8)
        Image.fromarray(a).convert('L' if i % 2 else 'RGB').save(folder/f'{i}.{"png" if i % 2 else "jpg"}')
    return folder

def test_predict_writes_file_class_probability(tmp_path):
    import csv
    from hsvd_nb.inject import add_hta, save_hta
    from hsvd_nb.pretrained import pretrained_vit
    save_hta(add_hta(pretrained_vit('dinov2_s14_offline', num_classes=2, img_size=14)), tmp_path/'a.safetensors',
             classes=['cat', 'dog'], backbone='dinov2_s14_offline')
    pics = _pictures(tmp_path/'pics')
    r = run('predict', str(tmp_path/'a.safetensors'), str(pics), '--out', str(tmp_path/'preds.csv'), '--device', 'cpu', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"wrote 3 predictions to {tmp_path/'preds.csv'}"
    rows = list(csv.DictReader(open(tmp_path/'preds.csv')))
    assert [Path(x['file']).name for x in rows] == ['0.jpg', '1.png', '2.jpg']
    assert all(x['class'] in ('cat', 'dog') and 0.5 <= float(x['probability']) <= 1 for x in rows)
    r = run('predict', str(tmp_path/'a.safetensors'), str(pics/'0.jpg'), cwd=tmp_path)  # no --out: the CSV on stdout
    assert r.returncode == 0 and r.stdout.splitlines()[0] == 'file,class,probability' and len(r.stdout.splitlines()) == 2, r.stderr

def test_predict_refuses_adapter_without_backbone(tmp_path):
    import timm
    from hsvd_nb.inject import add_hta, save_hta
    net = timm.create_model('vit_tiny_patch16_224', pretrained=False, img_size=32, patch_size=4, depth=2, num_classes=2)
    save_hta(add_hta(net), tmp_path/'a.safetensors')
    r = run('predict', str(tmp_path/'a.safetensors'), str(_pictures(tmp_path/'pics', 1)), '--out', str(tmp_path/'p.csv'))
    last = r.stderr.strip().splitlines()[-1]                                 # one line, after any library warnings
    assert r.returncode == 1 and last.startswith('hsvd-nb predict: error: ') and 'records no backbone' in last, r.stderr
    assert 'dinov2_s14_offline' in r.stderr and not (tmp_path/'p.csv').exists()

def test_finetune_folder_of_no_layout_lists_the_layouts(tmp_path):
    _pictures(tmp_path/'loose')                                              # images, but no class folders
    r = run('finetune', '--dataset', str(tmp_path/'loose'), '--out', str(tmp_path/'run'), cwd=tmp_path)
    assert r.returncode == 1 and 'matches none of the dataset layouts' in r.stderr, r.stderr
    assert all(k in r.stderr for k in ('train-valid:', 'class-folders:', 'vtab:', 'fgvc:'))
    assert not (tmp_path/'run').exists()
