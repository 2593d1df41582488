"""One tiny HTA fine-tune for tests/test_distributed.py: run it as one process, or under `accelerate launch` / `torchrun`
(gloo on CPUs). The global batch is fixed (16); each of N processes takes bs = 16 / N. Rank 0 alone writes to --out."""
import argparse, json, os
import torch
import timm
from fastai.callback.core import Callback
from fastai.torch_core import set_seed
from hsvd_nb.data import make_dls
from hsvd_nb.inject import HTAConfig
from hsvd_nb.learner import hta_learner
from hsvd_nb.distributed import (is_main, get_rank, get_world_size, init_distributed, validate_all, gather_features,
                                 CommBytesCallback, trainable_bytes)

N, B, NV = 64, 16, 21  # training images, the global batch, test images (21: the ranks' shares differ)

def tiny_vit(): return timm.create_model('vit_tiny_patch16_224', pretrained=False, img_size=32, patch_size=4, depth=2, num_classes=4)

def data(as_ranks:int):
    "Random images; with `as_ranks` = R the training order is the one R ranks see together (see `DistributedDL`)"
    g = torch.Generator().manual_seed(0)
    x, y = torch.randint(0, 256, (N, 16, 16, 3), generator=g, dtype=torch.uint8), torch.arange(N) % 4
    xv, yv = torch.randint(0, 256, (NV, 16, 16, 3), generator=g, dtype=torch.uint8), torch.arange(NV) % 4
    b, per = B // as_ranks, N // as_ranks    # global batch i = every rank's i-th batch; rank r holds items r·per … (r+1)·per−1
    order = torch.tensor([r * per + i * b + j for i in range(per // b) for r in range(as_ranks) for j in range(b)])
    return x[order].numpy(), y[order].numpy(), xv.numpy(), yv.numpy()

class Crash(Callback):
    "Rank `rank` raises after its first optimiser step"
    def __init__(self, rank:int): self.rank = rank
    def after_step(self):
        if get_rank() == self.rank: raise RuntimeError(f"rank {self.rank} stops on purpose after its first step")

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--out', required=True)
    p.add_argument('--as-ranks', type=int, default=1, help="one process: read the data in the order this many ranks would")
    p.add_argument('--crash-rank', type=int, default=None)
    a = p.parse_args()
    torch.set_num_threads(1)
    world = init_distributed()                                   # the group is up before distrib_ctx: the probe's features need it
    set_seed(0)
    dls = make_dls(*data(a.as_ranks if world == 1 else 1), img_size=32, bs=B // world, device='cpu')
    dls.loaders[0] = dls.train.new(shuffle=False)
    cbs = [CommBytesCallback()] + ([Crash(a.crash_rank)] if a.crash_rank is not None else [])
    learn = hta_learner(dls, tiny_vit(), HTAConfig(), pretrained=False, cbs=cbs)
    probe_feats = gather_features(learn.model, dls.valid)[0]       # before training, as finetune's linear probe
    with learn.distrib_ctx():
        learn.fit_one_cycle(2, 1e-2)
        loss, acc = validate_all(learn, dls.valid)             # every rank takes part; each test image counted once
        feats, labels = gather_features(learn.model, dls.valid)
    if is_main():
        os.makedirs(a.out, exist_ok=True)
        out = learn.save_adapter(a.out)
        res = dict(world=world, loss=loss, acc=acc, probe_feats=probe_feats.tolist(), feats=feats.tolist(), labels=labels.tolist(), comm_steps=learn.comm_bytes.steps,
                   trainable_bytes=trainable_bytes(learn.model), all_bytes=sum(p.numel() * p.element_size() for p in learn.model.parameters()))
        (out.parent/'result.json').write_text(json.dumps(res))
        print(f"main process wrote {out}", flush=True)

if __name__ == '__main__': main()
