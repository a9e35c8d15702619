"""Loggers are a registered part: the built-ins (jsonl, csv, tensorboard) and a plug-in's are
chosen by ``logger = NAME``; a logger whose package is missing is refused when the config is
checked, in one line, before anything is written; TensorBoard gets the epoch's scalars, the
ELBO's rate and distortion, a grid of samples at checkpoints and the run's hyperparameters."""

from __future__ import annotations

import csv
import json
import sys
import uuid

import pytest

from inference import ConfigError, train
from inference.loggers import LOGGERS

TINY = {
    "data": "digits",
    "model": "vae",
    "num_train": 40,
    "batch_size": 20,
    "hidden_dim": 8,
    "latent_dim": 2,
    "epochs": 2,
    "lr": 1e-2,
    "device": "cpu",
    "seed": 0,
}


def _jsonl(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_builtin_loggers_are_registered():
    assert {"jsonl", "csv", "tensorboard"} <= set(LOGGERS)


def test_csv_logger_writes_the_metrics_as_rows(tmp_path):
    train({**TINY, "logger": "csv"}, tmp_path / "run", progress=False)
    with (tmp_path / "run" / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    metrics = _jsonl(tmp_path / "run")
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert [float(r["valid_loss"]) for r in rows] == [m["valid_loss"] for m in metrics]


def test_a_plugin_file_adds_a_logger_the_config_names(tmp_path):
    name = f"mine-{uuid.uuid4().hex[:8]}"
    plugin = tmp_path / f"my_logger_{name[5:]}.py"
    plugin.write_text(
        "import json\n"
        "from inference.loggers import LOGGERS, Logger\n\n"
        f"@LOGGERS.register({name!r}, 'a test logger')\n"
        "class Mine(Logger):\n"
        "    def log_epoch(self, record, metrics):\n"
        "        with (self.folder.path / 'mine.txt').open('a') as f:\n"
        "            f.write(json.dumps(record['epoch']) + '\\n')\n"
    )
    train({**TINY, "plugins": [str(plugin)], "logger": name}, tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "mine.txt").read_text().splitlines() == ["1", "2"]


def test_unknown_logger_is_refused_naming_the_registered_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"^logger: expected one of .*csv.*tensorboard"):
        train({**TINY, "logger": "wandb-not-installed"}, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_tensorboard_missing_is_refused_before_training_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` now fails
    with pytest.raises(ConfigError) as info:
        train({**TINY, "logger": "tensorboard"}, tmp_path / "run", progress=False)
    message = str(info.value)
    assert "\n" not in message and message.startswith("logger: 'tensorboard' needs the tensorboard")
    assert not (tmp_path / "run").exists()  # nothing trained, nothing written


def test_tensorboard_log_holds_scalars_elbo_parts_samples_and_hparams(tmp_path):
    pytest.importorskip(
        "tensorboard", reason="the optional extra pgm[tensorboard] is not installed"
    )
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train({**TINY, "logger": "tensorboard"}, tmp_path / "run", progress=False)
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    tags = events.Tags()
    scalars = set(tags["scalars"])
    assert {"train_loss", "valid_loss", "best_valid_loss", "lr", "kl_weight"} <= scalars
    assert {"elbo/rate", "elbo/distortion"} <= scalars
    rate = [e.value for e in events.Scalars("elbo/rate")]
    distortion = [e.value for e in events.Scalars("elbo/distortion")]
    assert len(rate) == 2 and all(r >= -1e-3 for r in rate)  # a KL, up to one draw's noise
    # rate + distortion is one draw of the negative ELBO: near the valid loss (64 images)
    valid = [m["valid_loss"] for m in _jsonl(tmp_path / "run")]
    assert all(abs(r + d - v) < 0.25 * v for r, d, v in zip(rate, distortion, valid, strict=True))
    images = events.Images("samples")
    assert [e.step for e in images] == [1, 2] and images[0].width > 8 * 4
    plugins = events.PluginTagToContent("hparams")
    assert "_hparams_/session_start_info" in plugins
    from tensorboard.plugins.hparams import plugin_data_pb2

    data = plugin_data_pb2.HParamsPluginData.FromString(plugins["_hparams_/session_start_info"])
    hparams = data.session_start_info.hparams
    assert hparams["model"].string_value == "vae" and hparams["lr"].number_value == 1e-2
