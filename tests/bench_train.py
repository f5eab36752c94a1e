"""Training benchmarks (printed, never asserted). Run: python tests/bench_train.py [--quick]

1. fastai Learner vs a plain PyTorch loop: same model, same batches (the same DataLoader), same optimiser
   (torch.optim.Adam) and loss, on CPU, interleaved in one run; ratio of training spectra/s (goal >= 0.95).
2. The paper configuration (327,680 px, 7.05 M parameters): forward+backward spectra/s and peak memory on CPU.
3. A PROJECTION (not a measurement) of the paper's budget (1.5 M iterations x 32 = 48 M spectrum passes) on one
   H100, from the model's FLOPs and its activation traffic against the card's peak numbers.
"""
import os, sys, time, json, resource, subprocess, argparse
import numpy as np, torch
from stellar_nbs.spectra import Grid
from stellar_nbs.model import SpectrumVAE, vae_config, layer_table
from stellar_nbs.train import BottleneckLoss, array_dataloaders, vae_learner, adam
from fastai.callback.core import Callback
from fastai.torch_core import set_seed


def toy_flux(grid, n, seed=0):
    rng = np.random.default_rng(seed)
    rv = rng.uniform(-100, 100, n)
    c = 0.5 * (grid.wmin + grid.wmax)
    lines = rng.uniform(grid.wmin, grid.wmax, 300)
    w = grid.wave
    flux = np.ones((n, grid.length))
    for l in lines: flux -= 0.3 * np.exp(-0.5 * ((w[None] - l * (1 + rv[:, None] / 299792.458)) / 0.15)**2)
    return np.where(grid.valid, flux, np.nan).astype(np.float32)


class TrainTimer(Callback):
    "Wall time of the training phase of each epoch (validation excluded)."
    order = 100
    def __init__(self): self.times = []
    def before_train(self): self.t0 = time.perf_counter()
    def after_train(self): self.times.append(time.perf_counter() - self.t0)


def plain_epoch(model, dl, opt, loss_func):
    "One training epoch in plain PyTorch, doing what the fastai learner does (mask input, loss, step)."
    model.train()
    t0 = time.perf_counter()
    for x, y, v in dl:
        x = x * v.to(x.dtype)
        loss = loss_func(model(x), y, v)
        loss.backward(); opt.step(); opt.zero_grad()
    return time.perf_counter() - t0


def bench_fastai_vs_plain(quick):
    torch.set_num_threads(1)
    grid = Grid.parse('4000:6900:0.2')                        # the demo grid: 15,360 px, 'cpu' preset
    n, bs, reps = (96, 16, 2) if quick else (160, 16, 3)
    dls = array_dataloaders(toy_flux(grid, n), bs=bs, valid_pct=0.1)
    set_seed(0)
    m_fa = SpectrumVAE(**vae_config(grid.length, 'cpu'))
    m_pl = SpectrumVAE(**m_fa.config); m_pl.load_state_dict(m_fa.state_dict())
    timer = TrainTimer()
    learn = vae_learner(dls, m_fa, lr=1e-4, progress=False, cbs=[timer])
    opt = torch.optim.Adam(m_pl.parameters(), lr=1e-4)
    loss_pl = BottleneckLoss(w_kl=0.)
    n_train = len(dls.train) * bs
    learn.fit(1); plain_epoch(m_pl, dls.train, opt, loss_pl)     # warm-up (allocator, first-call costs)
    t_fa, t_pl = [], []
    for _ in range(reps):                                      # interleaved so machine load hits both alike
        t_pl.append(plain_epoch(m_pl, dls.train, opt, loss_pl))
        learn.fit(1); t_fa.append(timer.times[-1])
    fa, pl = n_train / np.min(t_fa), n_train / np.min(t_pl)
    print(f"[1] demo grid {grid.length} px, 'cpu' preset ({sum(p.numel() for p in m_fa.parameters())/1e6:.2f} M params), "
          f"bs {bs}, {len(dls.train)} batches/epoch, 1 thread, best of {reps} interleaved epochs")
    print(f"    plain PyTorch loop : {pl:7.2f} spectra/s   (epochs {', '.join(f'{t:.2f}' for t in t_pl)} s)")
    print(f"    fastai Learner     : {fa:7.2f} spectra/s   (epochs {', '.join(f'{t:.2f}' for t in t_fa)} s)")
    print(f"    ratio fastai/plain : {fa/pl:.3f}   (goal >= 0.95; median-based {np.median(t_pl)/np.median(t_fa):.3f})")
    return fa / pl


def bench_overhead(quick):
    "Fixed per-batch cost of the fastai loop and our callbacks, measured where compute is negligible."
    torch.set_num_threads(1)
    grid = Grid(5000., 5200., 0.5, pad_left=47, pad_right=48)
    dls = array_dataloaders(toy_flux(grid, 400 if quick else 800), bs=8, valid_pct=0.01)
    m_fa = SpectrumVAE(**vae_config(grid.length, 'tiny')); m_pl = SpectrumVAE(**m_fa.config)
    timer = TrainTimer(); learn = vae_learner(dls, m_fa, progress=False, cbs=[timer])
    opt = torch.optim.Adam(m_pl.parameters(), lr=1e-4); lf = BottleneckLoss()
    learn.fit(1); plain_epoch(m_pl, dls.train, opt, lf)
    t_fa, t_pl = [], []
    for _ in range(3):
        t_pl.append(plain_epoch(m_pl, dls.train, opt, lf)); learn.fit(1); t_fa.append(timer.times[-1])
    nb = len(dls.train)
    d = 1000 * (min(t_fa) - min(t_pl)) / nb
    print(f"    fixed fastai overhead (tiny model, 512 px): {1000*min(t_pl)/nb:.1f} ms/batch plain vs "
          f"{1000*min(t_fa)/nb:.1f} ms/batch fastai -> {d:.1f} ms per batch of callback dispatch")
    return d


PAPER_CHILD = r'''
import time, resource, torch, json, sys
from stellar_nbs.model import SpectrumVAE
from stellar_nbs.train import BottleneckLoss
torch.set_num_threads(int(sys.argv[2]))
bs, reps = int(sys.argv[1]), int(sys.argv[3])
m = SpectrumVAE.paper(); opt = torch.optim.Adam(m.parameters(), 1e-4); lf = BottleneckLoss(0.3)
x = torch.rand(bs, 1, 327680); v = torch.ones_like(x, dtype=torch.bool)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
def step():
    loss = lf(m(x), x, v); loss.backward(); opt.step(); opt.zero_grad()
step()
ts = []
for _ in range(reps):
    t0 = time.perf_counter(); step(); ts.append(time.perf_counter() - t0)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(dict(bs=bs, times=ts, base_mb=base/1024, peak_mb=peak/1024)))
'''

def bench_paper_cpu(quick):
    threads = 1
    res = []
    for bs in ([1] if quick else [1, 4]):
        out = subprocess.run([sys.executable, '-c', PAPER_CHILD, str(bs), str(threads), '2' if quick else '3'],
                             capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        r = json.loads(out); res.append(r)
        sps = r['bs'] / np.median(r['times'])
        print(f"[2] paper config on CPU ({threads} threads), batch {r['bs']}: {sps:.3f} spectra/s forward+backward+Adam, "
              f"peak RSS {r['peak_mb']:.0f} MB (model+optimiser alone {r['base_mb']:.0f} MB; "
              f"+{(r['peak_mb'] - r['base_mb'])/r['bs']:.0f} MB per spectrum)")
    return res


def projection_h100(cpu_res):
    tab = layer_table(SpectrumVAE.paper())
    macs, acts = tab.macs.sum(), tab.activations.sum()
    flop_train = 3 * 2 * macs                                 # forward + backward (~2x forward)
    passes = 1_500_000 * 32
    # Activation traffic per spectrum and training step, in units of the forward activations (12.9 M):
    # forward: each conv writes its output, LeakyReLU (in place) reads and writes it, the next layer reads it
    # -> ~4 accesses; backward: read saved activation, read upstream grad, write input grad, LeakyReLU
    # backward read/write, weight-grad read of the input -> ~8 accesses. About 12 accesses x 2 bytes (bf16).
    accesses, bytes_per = 12, 2
    traffic = accesses * acts * bytes_per
    H100 = dict(name='H100 SXM', bf16_dense_tflops=989., hbm_tb_s=3.35)
    t_flop = passes * flop_train / (H100['bf16_dense_tflops'] * 1e12)
    t_mem = passes * traffic / (H100['hbm_tb_s'] * 1e12)
    print(f"[3] PROJECTION (no GPU was lent to this task; numbers are estimates, not measurements)")
    print(f"    paper model: {macs/1e9:.3f} GMAC = {2*macs/1e9:.2f} GFLOP forward, ~{flop_train/1e9:.2f} GFLOP per training pass; "
          f"{acts/1e6:.1f} M activations per forward")
    print(f"    budget: 1.5 M iterations x 32 = {passes/1e6:.0f} M spectrum passes")
    print(f"    compute bound  ({H100['bf16_dense_tflops']:.0f} TFLOP/s bf16 dense): {t_flop/3600:.2f} h  -> not the limit")
    print(f"    bandwidth bound (~{accesses} activation accesses x {bytes_per} B = {traffic/1e6:.0f} MB per pass, "
          f"{H100['hbm_tb_s']} TB/s): {t_mem/3600:.2f} h")
    for eff in (0.6, 0.4):
        print(f"    at {int(eff*100)}% of peak bandwidth (typical for 1-D convs with 1-64 channels in cuDNN): "
              f"{t_mem/eff/3600:.1f} h, {passes/(t_mem/eff):,.0f} spectra/s")
    sps_cpu = max(r['bs'] / np.median(r['times']) for r in cpu_res)
    print(f"    for scale: this CPU does {sps_cpu:.2f} spectra/s -> {passes/sps_cpu/3600/24/365:.1f} years for the budget")


if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--quick', action='store_true'); a = ap.parse_args()
    print(f"torch {torch.__version__}, {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}")
    bench_fastai_vs_plain(a.quick)
    bench_overhead(a.quick)
    res = bench_paper_cpu(a.quick)
    projection_h100(res)
