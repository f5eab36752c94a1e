"Shared pytest configuration: the `slow` marker (CI runs slow tests too) and the location of the real data."
import sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent/'shared'/'data'
sys.path.insert(0, str(ROOT/'tests'/'tools'))   # development tools (the docs builder), not part of the package

def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than ~10 s (still run by CI)")
