"""Every seed the config accepts (0 .. 2**63 - 1) trains: the epoch's data order mixed the seed
into an int64 generator seed that overflowed above ~9.2e13 (a ValueError traceback mid-run)."""

import json

from inference.run import train
from tests.tiny_run import TINY_RUN


def test_the_largest_accepted_seed_trains(tmp_path):
    run = tmp_path / "big"
    train({**TINY_RUN, "seed": 2**63 - 1}, run, progress=False)
    assert json.loads((run / "config.json").read_text())["seed"] == 2**63 - 1
    assert (run / "model.safetensors").is_file()
