"""The config a ``train`` command runs: a TOML file plus ``--set``, or, with ``--resume`` and no
file, the run's own ``config.json``. One function serves ``pgm train`` and the torchrun entry
point, so both refuse the same inputs with the same one-line messages."""

from __future__ import annotations

from pathlib import Path

from .config import ConfigError, load_config, parse_overrides

__all__ = ["read_json_object", "train_config"]


def read_json_object(path: str | Path, flag: str) -> dict:
    """The JSON object in ``path``; a missing, unreadable, corrupted, absurdly nested or
    non-object file is refused in one line naming ``flag`` and the file."""
    import json

    path = Path(path)
    try:
        value = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        reason = "nested too deeply" if isinstance(err, RecursionError) else str(err)
        raise ConfigError(
            f"{flag}: expected JSON in {path}; found a corrupted file ({reason})"
        ) from None
    except OSError as err:
        raise ConfigError(
            f"{flag}: expected a readable file {path}; found it unreadable ({err.strerror or err})"
        ) from None
    if not isinstance(value, dict):
        raise ConfigError(f"{flag}: expected a JSON object in {path}; found {type(value).__name__}")
    return value


def train_config(config: str | None, out: str | Path, resume: bool, sets: list[str]) -> dict:
    """The config file (or, on ``--resume`` without one, ``OUT/config.json``) with the
    ``--set KEY=VALUE`` overrides applied."""
    overrides = parse_overrides(sets)
    if config is not None:
        cfg = load_config(config)
    elif resume:
        saved = Path(out) / "config.json"
        if not saved.is_file():
            raise ConfigError(
                f"config: expected a TOML file, or --resume with a run folder holding config.json; "
                f"found neither ({saved} does not exist)"
            )
        cfg = read_json_object(saved, "--resume")
    else:
        raise ConfigError(
            "config: expected a TOML config file (it may be left out only with --resume); found none"
        )
    cfg.update(overrides)
    return cfg
