#!/bin/bash
# the generalisation check: the cpu preset with its defaults on another archive (seed 7, other population, 3600-7400 A at 0.9 A, flux-normalised)
source /work/venv/bin/activate; export MPLBACKEND=Agg
cd STUDY; rm -rf gen/run
t0=$(date +%s)
stellar-nbs train gen/store gen/run && stellar-nbs encode gen/store gen/run && stellar-nbs analyse gen/run
echo "wall $(( $(date +%s) - t0 )) s"
