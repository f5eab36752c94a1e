"""The disentanglement study of 90_paper section 9, as it was run (not collected by pytest: run by hand).

- `mk.py OUT GRID N_TARGETS SEED`: a mock archive + store (the demo's: `mk.py a1 4000:6900:1.0 500 0`).
- `study.py NAME STORE '{json}'`: train one configuration (train_run keywords plus `group`, `capacity`, `smooth`,
  `doppler`, `equi` for the prototype callbacks of `levers.py`), evaluate it (`evalrun.evaluate`: analyse_run, MAD
  count, active units, best RV/Teff node and MI, explore.decoded_shift of the RV node) and append a JSON line.
  Paths written as STUDY are the study folder (replace it with yours).
- `collect.py` + `tocsv.py OUT.csv`: the rows into nbs/data/disentangle_study.csv.
- `make_gen.py` / `gen_run.sh`: the generalisation archive (seed 7, other population, 3600-7400 Å at 0.9 Å,
  flux-normalised) and the cpu preset with its defaults on it.
- `accept_csv.py ACCEPT_DIR OUT.csv`: nbs/data/acceptance.csv from the run folders of tests/bench_disentangle.py (with
  `--explain`: the RV node's km/s per unit against its label slope, the Teff node's lines).
- `demo_row.py DEMO_OUT NAME CONFIGURATION [--chosen]`: one row of the study CSV from a demo folder.
The winning levers live in the package: `BottleneckLoss(kl_reduction='group')`, `DopplerPairs` with
`train.velocity_consistency`, the Doppler layer of `model.SpectrumVAE` (`velocity=`); `DopplerAugment` stays available.
"""
