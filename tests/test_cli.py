"The `stellar-nbs demo` wiring, run small: the default chain and the `--long` RV recipe's settings reach the run."
import json
import pytest, torch
from stellar_nbs.cli import demo_command, main

@pytest.mark.slow
def test_demo_long_recipe_settings_reach_the_run(tmp_path, capsys):
    threads = torch.get_num_threads()
    try: rep = demo_command(str(tmp_path/'d'), long=True, n_targets=12, epochs=2, workers=1)
    finally: torch.set_num_threads(threads)
    cfg = json.loads((tmp_path/'d'/'run'/'config.json').read_text())
    assert cfg['grid']['step'] == 1.0 and cfg['epochs'] == 2 and cfg['preset'] == 'cpu_long'
    from stellar_nbs.recipe import TRAIN_PRESETS
    kl = TRAIN_PRESETS['cpu_long'].kl                                         # --long: the cpu_long recipe
    assert {k: cfg['kl'][k] for k in ('start', 'end', 'beta')} == kl and cfg['model']['velocity']['node'] == 0
    out = capsys.readouterr().out
    assert 'informative nodes' in out and 'injected odd spectra' in out and (tmp_path/'d'/'run'/'report.md').exists()
    assert rep['n_spectra'] == cfg['n_train'] + cfg['n_valid']

def test_demo_full_and_long_are_exclusive(tmp_path, capsys):
    assert main(['demo', str(tmp_path/'x'), '--full', '--long']) == 1
    assert '--long' in capsys.readouterr().err and not (tmp_path/'x').exists()

@pytest.mark.slow
def test_logs_get_no_progress_bars(tmp_path):
    "Output to a file or a pipe (not a terminal): no bar redraws (carriage returns); training prints one line per epoch."
    import subprocess, sys
    def cli(*args):
        res = subprocess.run([sys.executable, '-c', 'import sys; from stellar_nbs.cli import main; sys.exit(main(sys.argv[1:]))',
                              *map(str, args)], capture_output=True, timeout=600)   # bytes: text mode would hide '\r'
        out, err = res.stdout.decode(), res.stderr.decode()
        assert res.returncode == 0, err
        assert '\r' not in out + err, f"progress bar redraws in a log:\n{(out + err)[:500]!r}"
        return out.splitlines()
    grid = '5000:5600:0.5'
    cli('mock', tmp_path/'a', '--n-targets', 4, '--seed', 1, '--grid', grid, '--n-exposures-max', 3)
    cli('prepare', tmp_path/'a', tmp_path/'s', '--grid', grid, '--labels', tmp_path/'a'/'labels.csv')
    out = cli('train', tmp_path/'s', tmp_path/'r', '--preset', 'tiny', '--epochs', 3, '--bs', 4)
    assert out[0].split()[:2] == ['epoch', 'train_loss'] and 'valid_loss' in out[0].split(), out
    assert [l.split()[0] for l in out[1:4]] == ['0', '1', '2'] and out[4:] == [f"trained; run folder {tmp_path/'r'}"], out
    cli('encode', tmp_path/'s', tmp_path/'r')
