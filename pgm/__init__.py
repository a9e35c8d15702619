"""pgm: explicit-density generative models for images, written as Pyro programs.

``pgm.build(config)`` builds any registered model; ``pgm.data.load_dataset`` loads data;
``pgm.list_parts()`` names every registered part. A user's own parts join through the same
registries (``pgm.PRIORS.register(...)``, ``pgm.register_model(...)``) from plug-ins
(``pgm.load_plugins``, the ``plugins`` config key, ``--plugin``, the ``pgm.plugins`` entry
points); ``pgm.plain_model`` wraps a hand-written Pyro ``model``/``guide`` pair.
"""

from __future__ import annotations

from . import (  # noqa: F401  (importing registers the built-in parts and models)
    autoencoder,
    autoregressive,
    completion,
    guides,
    hvae,
    likelihoods,
    priors,
)
from .build import MODEL_DEFAULTS, build, resolve_model_config
from .data import ImageDataset, load_dataset
from .generative_model import GenerativeModel, check_images
from .plain_model import PlainModel, SamplingUnavailable, plain_model, register_model
from .plugins import PluginError, PluginWarning, load_plugin, name_plugins
from .registry import (
    DATASETS,
    DECODERS,
    ENCODERS,
    GUIDES,
    LIKELIHOODS,
    MODELS,
    PRIORS,
    all_registries,
)
from .run_plugins import use_plugins  # noqa: F401  (pgm.use_plugins, as before)

__version__ = "0.1.0"

__all__ = [
    "DATASETS",
    "DECODERS",
    "ENCODERS",
    "GUIDES",
    "LIKELIHOODS",
    "MODELS",
    "MODEL_DEFAULTS",
    "PRIORS",
    "GenerativeModel",
    "ImageDataset",
    "PlainModel",
    "PluginError",
    "PluginWarning",
    "SamplingUnavailable",
    "build",
    "check_images",
    "list_parts",
    "load_dataset",
    "load_plugins",
    "plain_model",
    "register_model",
    "resolve_model_config",
]


def load_plugins(*plugins: str) -> list[dict]:
    """Import plug-ins now (module names or ``.py`` paths; a relative path is read from the
    working directory, as on a command line), each once; their records."""
    return [load_plugin(spec, "plugins") for spec in name_plugins(list(plugins), "plugins")]


def list_parts() -> dict[str, dict[str, str]]:
    """Every registered part, by kind: ``{"models": {name: description}, ...}``."""
    return {
        kind: {n: reg.describe(n) for n in sorted(reg)} for kind, reg in all_registries().items()
    }
