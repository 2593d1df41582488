"""Data-parallel HTA training across processes (issue 14): two gloo (CPU) ranks under `accelerate launch` train the adapter one
process trains with the same global batch, seed and schedule; the file rank 0 writes loads into a one-process model; a rank
that crashes ends the run with its error instead of hanging. The worker is tests/ddp_worker.py."""
import json, os, signal, socket, subprocess, sys, time
from pathlib import Path
import pytest

pytest.importorskip('accelerate')
ROOT = Path(__file__).resolve().parent.parent
WORKER, BIN = ROOT/'tests'/'ddp_worker.py', Path(sys.executable).parent
ENV = {**os.environ, 'HF_HUB_OFFLINE': '1', 'ACCELERATE_USE_CPU': '1', 'OMP_NUM_THREADS': '1', 'PYTHONUNBUFFERED': '1'}
ENV.pop('RANK', None); ENV.pop('WORLD_SIZE', None)

def _port()->int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _start(cmd:list)->subprocess.Popen:
    return subprocess.Popen([str(c) for c in cmd], cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # its own process group: a hang is killed with every rank

def _wait(p:subprocess.Popen, timeout:float)->tuple[int, str]:
    "Return code and output of `p`, or fail the test (killing every process it started) if it outlives `timeout`"
    try: out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL); out, _ = p.communicate()
        pytest.fail(f"the run hung: still going after {timeout} s\n{out[-4000:]}")
    return p.returncode, out

def _accelerate(*args)->list: # two CPU processes on gloo: ACCELERATE_USE_CPU=1 makes Accelerate pick gloo
    return [BIN/'accelerate', 'launch', '--multi_gpu', '--num_processes', '2', '--num_machines', '1', '--mixed_precision', 'no',
            '--dynamo_backend', 'no', '--main_process_port', _port(), WORKER, *args]

def test_two_ranks_train_the_adapter_one_process_does(tmp_path):
    one = _start([sys.executable, WORKER, '--out', tmp_path/'one', '--as-ranks', '2'])   # global batch 16 in one process
    rc, out = _wait(_start(_accelerate('--out', tmp_path/'two')), 150)                     # 2 ranks × bs 8
    assert rc == 0, out[-6000:]
    rc1, out1 = _wait(one, 150)
    assert rc1 == 0, out1[-6000:]
    assert out.count('main process wrote') == 1                                             # rank 0 alone writes and prints
    assert sorted(p.name for p in (tmp_path/'two').iterdir()) == ['adapter.safetensors', 'result.json']

    import torch, timm
    from hsvd_nb.inject import read_hta, load_hta
    a, b = read_hta(tmp_path/'one').tensors, read_hta(tmp_path/'two').tensors
    assert sorted(a) == sorted(b) and len(a) > 4
    for k in a: torch.testing.assert_close(b[k], a[k], rtol=1e-5, atol=1e-5, msg=k)   # float32; measured ~2e-7

    r1, r2 = json.loads((tmp_path/'one'/'result.json').read_text()), json.loads((tmp_path/'two'/'result.json').read_text())
    assert (r1['world'], r2['world']) == (1, 2)
    assert r2['acc'] == r1['acc'] and abs(r2['loss'] - r1['loss']) < 1e-5                  # the whole test set, not rank 0's 10 of 21
    assert r2['labels'] == r1['labels'] == [i % 4 for i in range(21)]                        # gathered features: every image, in order
    torch.testing.assert_close(torch.tensor(r2['probe_feats']), torch.tensor(r1['probe_feats']), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(torch.tensor(r2['feats']), torch.tensor(r1['feats']), rtol=1e-4, atol=1e-4)
    assert r2['comm_steps'] == [r2['trainable_bytes']] * 8                                  # DDP all-reduced adapters + head only
    assert r2['trainable_bytes'] * 20 < r2['all_bytes']

    def net(): # the same random backbone each time
        torch.manual_seed(0)
        return timm.create_model('vit_tiny_patch16_224', pretrained=False, img_size=32, patch_size=4, depth=2, num_classes=4)
    m1, m2 = load_hta(net(), tmp_path/'one').eval(), load_hta(net(), tmp_path/'two').eval()  # into a plain one-process model
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad(): torch.testing.assert_close(m2(x), m1(x), rtol=1e-4, atol=1e-4)

def test_a_crashed_rank_ends_the_run(tmp_path):
    t0 = time.time()
    cmd = [BIN/'torchrun', '--nproc_per_node', '2', '--master_port', _port(), WORKER, '--out', tmp_path/'out', '--crash-rank', '1']
    rc, out = _wait(_start(cmd), 90)                        # rank 0 waits in its next all-reduce; the launcher must stop it
    assert rc != 0 and time.time() - t0 < 90
    assert 'rank 1 stops on purpose after its first step' in out, out[-6000:]   # the cause, with rank 1's traceback
    assert 'Root Cause' in out and 'rank      : 1' in out                      # torchrun's summary names the failed rank
    assert not (tmp_path/'out').exists()                                       # nothing half-written

NO_ACCELERATE = """
import importlib.util as u, os, sys
find = u.find_spec
u.find_spec = lambda n, *a: None if n == 'accelerate' else find(n, *a)   # as if Accelerate were not installed
import hsvd_nb.distributed as D
from fastai.learner import Learner
assert not D.HAS_ACCELERATE and 'fastai.distributed' not in sys.modules
with Learner.distrib_ctx('learn') as l: assert l == 'learn'             # one process: nothing to do, as fastai's
os.environ.update(WORLD_SIZE='2', RANK='0')
try:
    with Learner.distrib_ctx('learn'): pass
except ModuleNotFoundError as e: print(e)
"""

def test_without_accelerate_one_process_runs_and_a_launch_says_what_to_install():
    r = subprocess.run([sys.executable, '-c', NO_ACCELERATE], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-4000:]
    assert "needs Hugging Face Accelerate: pip install 'hsvd-nb[distributed]'" in r.stdout

FINETUNE = """
import sys, timm, torch
from hsvd_nb.finetune import finetune
torch.manual_seed(0)
net = timm.create_model('vit_tiny_patch16_224', pretrained=False, img_size=16, patch_size=4, depth=2, num_classes=0)
finetune('digits', net, img_size=16, epochs=1, bs=16, n_test=300, out=sys.argv[1], pretrained=False, quiet=False)
"""

def test_finetune_under_torchrun_writes_once_and_counts_every_test_image(tmp_path):
    "finetune under a launcher: one set of outputs (rank 0's), printed once, metrics over the whole test set from both ranks"
    script = tmp_path/'ft.py'; script.write_text(FINETUNE)
    rc, out = _wait(_start([BIN/'torchrun', '--nproc_per_node', '2', '--master_port', _port(), script, tmp_path/'out']), 150)
    assert rc == 0, out[-4000:]
    m = json.loads((tmp_path/'out'/'metrics.json').read_text())
    assert m['processes'] == 2 and m['global_bs'] == 32 and m['n_test'] == 300
    assert out.count('linear probe: test accuracy') == 1 and out.count('HTA: test accuracy') == 1   # rank 0 alone prints
    assert sorted(p.name for p in tmp_path.iterdir()) == ['ft.py', 'out']                           # no second set, no lock left
