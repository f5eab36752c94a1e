"""Issue 14, training to retrieval: user mistakes are one line and status 1, bugs keep tracebacks, options are taken as
given, good latents are never replaced, a run folder takes one training at a time and resumes after a kill, and the
analyses work from latents and labels of any origin."""
import json, os, shutil, signal, subprocess, sys, time
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from stellar_nbs.spectra import Grid, InputError
from stellar_nbs.archive import mock_archive
from stellar_nbs.store import prepare
from stellar_nbs.files import folder_lock
from stellar_nbs.train import train_run, encode_store
from stellar_nbs import cli
from stellar_nbs.cli import main

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
GRID = Grid.parse('5000:5600:0.5')


@pytest.fixture(scope='module')
def chain(tmp_path_factory):
    "A tiny mock archive, its store, a 2-epoch 'tiny' run and its latents."
    d = tmp_path_factory.mktemp('chain')
    mock_archive(d/'fits', n_targets=14, seed=0, grid=GRID, n_exposures_max=4, progress=False)
    store = prepare(d/'fits', d/'store', grid=GRID, labels=d/'fits'/'labels.csv', progress=False)
    train_run(store, d/'run', config='tiny', epochs=2, seed=0, device='cpu', bs=4, progress=False)
    encode_store(store, d/'run', device='cpu', progress=False)
    return d


def run_cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


# ---- errors ------------------------------------------------------------------------------------------------
def test_bug_keeps_its_traceback(monkeypatch, tmp_path):
    "A ValueError from inside a command is a bug: it propagates (old: printed as a user error, status 1)."
    def broken(**kw): raise ValueError('index 3 is out of bounds (a bug)')
    monkeypatch.setitem(cli.COMMANDS, 'mock', broken)
    with pytest.raises(ValueError, match='a bug'): main(['mock', str(tmp_path/'x')])

def test_busy_store_is_one_line(chain, tmp_path, capsys):
    "Another prepare holding the store: status 1 and one line (old: a RuntimeError traceback)."
    shutil.copytree(chain/'store', tmp_path/'store')
    with folder_lock(tmp_path/'store'):
        rc, out, err = run_cli(capsys, 'prepare', chain/'fits', tmp_path/'store', '--grid', '5000:5600:0.5')
    assert rc == 1 and 'another prepare is writing this store' in err and err.count('\n') == 1, err

@pytest.mark.skipif(torch.cuda.is_available(), reason='a GPU is present')
def test_cuda_without_gpu_is_a_user_error(chain, tmp_path, capsys):
    rc, out, err = run_cli(capsys, 'train', chain/'store', tmp_path/'run', '--preset', 'tiny', '--device', 'cuda')
    assert rc == 1 and 'no CUDA GPU' in err and err.count('\n') == 1, err

def test_prepare_with_nothing_accepted_exits_1(tmp_path, capsys):
    "Every file rejected: status 1 and the commonest reasons (old: status 0 and an empty store)."
    (tmp_path/'arc').mkdir()
    for i in range(3): (tmp_path/'arc'/f'junk{i}.fits').write_bytes(os.urandom(5000))
    rc, out, err = run_cli(capsys, 'prepare', tmp_path/'arc', tmp_path/'store', '--grid', '5000:5600:0.5')
    assert rc == 1 and 'no spectrum accepted out of 3 files' in err and 'catalog.csv' in err, err
    assert (tmp_path/'store'/'catalog.csv').exists()


# ---- options -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize('argv', [('train', '--epochs', '0'), ('train', '--epochs', '-3'), ('train', '--bs', '0'),
                                  ('encode', '--bs', '-1'), ('encode', '--bs', '0')])
def test_counted_options_are_checked(chain, tmp_path, capsys, argv):
    "0 and negative values are errors, not the default (old: `x or default` trained or encoded anyway)."
    shutil.copytree(chain/'run', tmp_path/'run')
    before = (tmp_path/'run'/'latents.npy').read_bytes()
    rc, out, err = run_cli(capsys, argv[0], chain/'store', tmp_path/'run', *argv[1:], *(('--preset', 'tiny') if argv[0] == 'train' else ()))
    assert rc == 1 and 'must be a whole number >= 1' in err, err
    assert (tmp_path/'run'/'latents.npy').read_bytes() == before

def test_retrieve_k_zero(chain, capsys):
    rc, out, err = run_cli(capsys, 'retrieve', chain/'run', 'x', '--k', '0')
    assert rc == 1 and '--k must be a whole number >= 1' in err, err


# ---- encoding ----------------------------------------------------------------------------------------------
def test_encode_negative_batch_keeps_good_latents(chain, tmp_path):
    "encode_store(bs=-1) used to write all-zero latents over the good ones."
    shutil.copytree(chain/'run', tmp_path/'run')
    good = np.load(tmp_path/'run'/'latents.npy')
    with pytest.raises(InputError, match='bs must be'): encode_store(chain/'store', tmp_path/'run', bs=-1, device='cpu', progress=False)
    np.testing.assert_array_equal(np.load(tmp_path/'run'/'latents.npy'), good)
    assert np.abs(good).sum() > 0

def test_encode_checks_the_grid_not_only_its_length(chain, tmp_path, capsys):
    shutil.copytree(chain/'store', tmp_path/'store')
    g = Grid.load(chain/'store'/'grid.json')
    Grid(g.wmin + 3, g.wmax + 3, g.step, g.pad_left, g.pad_right, g.gaps).save(tmp_path/'store'/'grid.json')
    shutil.copytree(chain/'run', tmp_path/'run')
    rc, out, err = run_cli(capsys, 'encode', tmp_path/'store', tmp_path/'run')
    assert rc == 1 and 'is not the grid' in err, err


# ---- training ----------------------------------------------------------------------------------------------
def test_two_trainings_into_one_run_folder(chain, tmp_path, capsys):
    (tmp_path/'run').mkdir()
    with folder_lock(tmp_path/'run'):
        rc, out, err = run_cli(capsys, 'train', chain/'store', tmp_path/'run', '--preset', 'tiny')
    assert rc == 1 and 'another train is writing this run folder' in err, err
    assert not (tmp_path/'run'/'config.json').exists()

def test_resume_with_nothing_to_resume(chain, tmp_path, capsys):
    rc, out, err = run_cli(capsys, 'train', chain/'store', tmp_path/'run', '--preset', 'tiny', '--resume')
    assert rc == 1 and 'nothing to resume' in err, err

@pytest.mark.slow
def test_killed_training_resumes_the_schedule(chain, tmp_path):
    "SIGKILL after the second epoch: a checkpoint is there (old: only at the end of fit), and --resume finishes the schedule."
    env = {**os.environ, 'PYTHONPATH': str(ROOT)}
    code = "import sys; from stellar_nbs.cli import main; sys.exit(main(sys.argv[1:]))"
    argv = ['train', str(chain/'store'), str(tmp_path/'run'), '--preset', 'tiny', '--epochs', '40', '--bs', '4']
    p = subprocess.Popen([sys.executable, '-c', code, *argv], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hist = tmp_path/'run'/'history.csv'
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and p.poll() is None:
        if hist.exists() and len(pd.read_csv(hist)) >= 3: break   # epoch 3's row: epoch 2's checkpoint is written (History runs before Checkpointer)
        time.sleep(0.2)
    assert p.poll() is None, 'training ended before it could be killed'
    p.send_signal(signal.SIGKILL); p.wait()
    assert (tmp_path/'run'/'checkpoint.pth').exists(), 'no checkpoint after two epochs'
    done = len(pd.read_csv(hist))
    state = torch.load(tmp_path/'run'/'checkpoint.pth', weights_only=True)
    assert state['iteration'] >= 2 * json.loads((tmp_path/'run'/'config.json').read_text())['iterations_per_epoch']
    learn = train_run(chain/'store', tmp_path/'run', config='tiny', epochs=40, bs=4, device='cpu', progress=False)
    cfg = json.loads((tmp_path/'run'/'config.json').read_text())
    h = pd.read_csv(hist)
    assert learn.iteration == cfg['total_iterations'] and h.epoch.tolist() == list(range(40)), (learn.iteration, h.epoch.tolist())
    assert done >= 2


# ---- analyses on latents and labels of any origin ----------------------------------------------------------
def alien_run(chain, path):
    "A run folder with only latents.npy + latents_index.csv (latents from another model), and a catalogue in its own names."
    path.mkdir()
    shutil.copy(chain/'run'/'latents.npy', path); shutil.copy(chain/'run'/'latents_index.csv', path)
    lab = pd.read_csv(chain/'store'/'labels.csv')
    idx = pd.read_csv(path/'latents_index.csv')
    cat = lab.rename(columns={'teff': 'Teff', 'm_h': 'feh', 'radvel': 'rv', 'logg': 'logg'})[['dp_id', 'target', 'Teff', 'feh', 'rv', 'logg', 'sptype']]
    cat['my_index'] = np.random.default_rng(0).normal(0, 1, len(cat))
    cat.to_csv(path/'catalogue.csv', index=False)
    return path

def test_analyse_latents_alone_with_own_label_names(chain, tmp_path, capsys):
    run = alien_run(chain, tmp_path/'alien')
    rc, out, err = run_cli(capsys, 'analyse', run, '--labels', run/'catalogue.csv')
    assert rc == 0, err
    rep = json.loads((run/'report.json').read_text())
    assert {'teff', 'm_h', 'radvel', 'logg', 'my_index'} <= {r['label'] for r in rep['mi_table']}
    assert rep['active_units'] is None and any('latents_logvar.npy' in n for n in rep['notes'])
    assert any('sptype' in n for n in rep['notes']) and (run/'report.md').exists()

def test_analyse_without_usable_labels_still_reports(chain, tmp_path, capsys):
    run = alien_run(chain, tmp_path/'alien')
    pd.read_csv(run/'catalogue.csv')[['dp_id', 'target']].to_csv(run/'none.csv', index=False)
    rc, out, err = run_cli(capsys, 'analyse', run, '--labels', run/'none.csv')
    assert rc == 0, err
    rep = json.loads((run/'report.json').read_text())
    assert 'best_node' not in rep and (run/'report.md').exists() and rep['figures'] == ['mad_stem.png']

def test_non_numeric_label_value_names_the_column(chain, tmp_path, capsys):
    run = alien_run(chain, tmp_path/'alien')
    cat = pd.read_csv(run/'catalogue.csv').astype({'Teff': object}); cat.loc[2, 'Teff'] = 'n/a?'
    cat.to_csv(run/'bad.csv', index=False)
    rc, out, err = run_cli(capsys, 'analyse', run, '--labels', run/'bad.csv')
    assert rc == 1 and "column 'teff' has a non-numeric value 'n/a?'" in err, err

def test_retrieve_from_latents_alone_and_rebuilds_a_stale_index(chain, tmp_path, capsys):
    run = alien_run(chain, tmp_path/'alien')
    mu = np.load(run/'latents.npy'); idx = pd.read_csv(run/'latents_index.csv', dtype={'dp_id': str})
    q = idx.dp_id[0]
    rc, out, err = run_cli(capsys, 'retrieve', run, q, '--k', '3')
    assert rc == 0 and (run/'retrieval.npz').exists(), err
    first = out
    mu2 = mu.copy(); mu2[1:] = mu[1:][::-1]                       # new latents: other neighbours
    np.save(run/'latents.npy', mu2)
    rc, out, err = run_cli(capsys, 'retrieve', run, q, '--k', '3')
    assert rc == 0, err
    from stellar_nbs.explore import LatentIndex
    expect = LatentIndex(mu2, np.load(run/'retrieval.npz')['nodes'], idx.dp_id.to_numpy()).query(q, k=3)
    for d in expect.dp_id: assert d in out, (d, out)
    assert out != first


# ---- the store: interruptions --------------------------------------------------------------------------------
def write_small_archive(path, n=30):
    from astropy.io import fits
    path.mkdir(parents=True, exist_ok=True)
    wave = GRID.wave[GRID.core]
    for i in range(n):
        flux = (1000 * (1 + 0.1 * np.sin(wave / (3 + i % 5)))).astype(np.float32)
        cols = [fits.Column(name='WAVE', format=f'{len(wave)}D', array=wave[None]), fits.Column(name='FLUX', format=f'{len(wave)}E', array=flux[None])]
        hdr = fits.Header(dict(OBJECT=f'STAR{i % 4}', ARCFILE=f'ADP.2031-01-01T00:00:{i:02d}.000.fits'))
        fits.HDUList([fits.PrimaryHDU(header=hdr), fits.BinTableHDU.from_columns(cols, name='SPECTRUM')]).writeto(path/f's{i:02d}.fits')
    return path

def test_torn_journal_twice_is_still_recoverable(tmp_path, monkeypatch):
    "Interrupted, a torn last line, resumed and interrupted again: the third run finishes (old: 'corrupt journal')."
    from stellar_nbs import store as store_mod
    arc = write_small_archive(tmp_path/'arc', 12)
    ref = prepare(arc, tmp_path/'ref', grid=GRID, progress=False)
    real, calls = store_mod.grid_file, []
    def dies_after(k):
        def f(path, *a):
            if len(calls) == k: raise KeyboardInterrupt('killed')
            calls.append(path); return real(path, *a)
        return f
    monkeypatch.setattr(store_mod, 'grid_file', dies_after(4))
    with pytest.raises(KeyboardInterrupt): prepare(arc, tmp_path/'st', grid=GRID, progress=False, checkpoint_s=0.)
    with open(tmp_path/'st'/'journal.jsonl', 'a') as f: f.write('{"source": "/half/a/rec')        # killed mid-write
    calls.clear(); monkeypatch.setattr(store_mod, 'grid_file', dies_after(3))
    with pytest.raises(KeyboardInterrupt): prepare(arc, tmp_path/'st', grid=GRID, progress=False, checkpoint_s=0.)
    monkeypatch.setattr(store_mod, 'grid_file', real)
    st = prepare(arc, tmp_path/'st', grid=GRID, progress=False)
    assert np.asarray(st.flux).tobytes() == np.asarray(ref.flux).tobytes()
    pd.testing.assert_frame_equal(st.catalog, ref.catalog)

def _children(pid):
    out = []
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try: fields = stat.read_text().rsplit(')', 1)[1].split()
        except OSError: continue
        if int(fields[1]) == pid: out.append(int(stat.parent.name))
    return out

def _alive(pid):
    try: return Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError: return False

@pytest.mark.slow
@pytest.mark.skipif(not Path('/proc').exists(), reason='needs /proc')
def test_killed_prepare_leaves_no_workers(tmp_path):
    "SIGKILL to `prepare --workers 2` alone: its worker processes exit too (old: they wait for work for ever)."
    arc = write_small_archive(tmp_path/'arc', 200)
    code = "import sys; from stellar_nbs.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, 'PYTHONPATH': str(ROOT)}
    p = subprocess.Popen([sys.executable, '-c', code, 'prepare', str(arc), str(tmp_path/'st'), '--grid', '5000:5600:0.5', '--workers', '2'],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline, workers = time.monotonic() + 120, []
    while time.monotonic() < deadline and p.poll() is None:
        workers = [c for c in _children(p.pid) if 'spawn_main' in Path(f'/proc/{c}/cmdline').read_text(errors='replace')]
        if len(workers) >= 2 and (tmp_path/'st'/'journal.jsonl').exists(): break
        time.sleep(0.1)
    assert p.poll() is None and len(workers) >= 2, f'prepare ended or started no workers ({workers})'
    p.kill(); p.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(w) for w in workers): time.sleep(0.2)
    left = [w for w in workers if _alive(w)]
    for w in left: os.kill(w, signal.SIGKILL)
    assert not left, f'orphaned workers {left}'
