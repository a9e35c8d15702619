"""Networks mean what their config says: the layers a config's header comment states
("encoder 784-400-400-50, decoder 50-400-400-784") are exactly the Linear layers built, and
the MLP, gated MLP and activation choices build what they name."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import pgm
from pgm.nn import GatedDense, GatedMLP, make_decoder, make_encoder, make_mlp

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "pgm" / "configs").glob("*.toml")) + sorted(
    (REPO / "pgm" / "configs" / "papers").glob("*.toml")
)
#: (image_shape, num_levels) of the datasets shipped configs name, without loading them
DATA_SHAPES = {
    "binarized-mnist": ([1, 28, 28], 2),
    "mnist": ([1, 28, 28], 256),
    "digits": ([1, 8, 8], 17),
    "digits-binary": ([1, 8, 8], 2),
}
SPEC = re.compile(r"\b(encoder|decoder)\s+(\d+(?:-\d+)+)")


def header(path: Path) -> str:
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:])
    return " ".join(lines)


def stated_architecture(path: Path) -> dict[str, list[int]]:
    """``{"encoder": [784, 400, 50], "decoder": [50, 400, 784]}`` from the header comment."""
    return {kind: [int(v) for v in spec.split("-")] for kind, spec in SPEC.findall(header(path))}


def linear_widths(module: nn.Module) -> list[int]:
    """[in, out of each layer...] of the Linear layers in order; a gated layer counts once."""
    gates = {id(m.gate) for m in module.modules() if isinstance(m, GatedDense)}
    layers = [m for m in module.modules() if isinstance(m, nn.Linear) and id(m) not in gates]
    widths = [layers[0].in_features]
    for a, b in zip(layers[:-1], layers[1:], strict=True):
        assert a.out_features == b.in_features, f"layers do not chain: {a} then {b}"
    return widths + [m.out_features for m in layers]


def mlp_configs() -> list[Path]:
    out = []
    for path in CONFIGS:
        cfg = tomllib.loads(path.read_text())
        if cfg.get("model", "vae") in ("vae", "autoencoder") and cfg.get("network", "mlp") in (
            "mlp",
            "gated-mlp",
        ):
            out.append(path)
    return out


def built_architecture(model) -> tuple[list[int], list[int]]:
    """(encoder widths up to the latent size, decoder widths down to the pixels) of a VAE (its
    guide's encoder, then the loc head; an IAF guide's diagonal base) or an autoencoder."""
    if hasattr(model, "posterior"):
        guide = getattr(model.posterior, "diagonal", model.posterior)
        # the guide's heads read the encoder's last layer; the scale head has the loc's shape
        assert guide.loc.in_features == guide.scale.in_features == guide.encoder.out_features
        assert guide.scale.out_features == guide.loc.out_features
        encoder = linear_widths(guide.encoder) + [guide.loc.out_features]
        net = model.likelihood.decoder
    else:  # the autoencoder: its encoder ends in the code
        encoder, net = linear_widths(model.encoder), model.decoder
    decoder = linear_widths(net)
    assert decoder[-1] % net.params_per_dim == 0
    decoder[-1] //= net.params_per_dim
    return encoder, decoder


def test_there_are_configs_to_check():
    assert len(mlp_configs()) >= 3


@pytest.mark.parametrize("path", mlp_configs(), ids=lambda p: str(p.relative_to(REPO)))
def test_config_builds_the_architecture_its_header_states(path):
    cfg = tomllib.loads(path.read_text())
    stated = stated_architecture(path)
    assert "encoder" in stated, f"{path.name}: header must state 'encoder D-H-...-L'"
    shape, levels = DATA_SHAPES[cfg.get("data", "digits")]
    model_keys = {k: v for k, v in cfg.items() if k in pgm.MODEL_DEFAULTS}
    model = pgm.build({**model_keys, "image_shape": shape, "num_levels": levels})
    encoder, decoder = built_architecture(model)
    assert encoder == stated["encoder"], (
        f"{path.name}: built encoder {encoder}, header says {stated['encoder']}"
    )
    expected = stated.get("decoder", stated["encoder"][::-1])
    assert decoder == expected, f"{path.name}: built decoder {decoder}, header says {expected}"
    if cfg.get("network", "mlp") == "mlp":
        acts = {type(m) for m in model.modules() if isinstance(m, (nn.ReLU, nn.Tanh))}
        assert acts == {nn.Tanh if cfg.get("activation", "relu") == "tanh" else nn.ReLU}


def test_hidden_dim_and_hidden_layers_give_exact_widths():
    model = pgm.build(
        {
            "image_shape": [1, 8, 8],
            "num_levels": 2,
            "hidden_dim": 40,
            "hidden_layers": 1,
            "latent_dim": 3,
        }
    )
    assert linear_widths(model.posterior.encoder) + [model.posterior.loc.out_features] == [
        64,
        40,
        3,
    ]
    assert linear_widths(model.likelihood.decoder) == [3, 40, 64]
    model = pgm.build(
        {"image_shape": [1, 8, 8], "num_levels": 2, "hidden_dims": [30, 20], "latent_dim": 3}
    )
    assert linear_widths(model.posterior.encoder) == [64, 30, 20]
    assert linear_widths(model.likelihood.decoder) == [3, 20, 30, 64]


def test_no_activation_between_encoder_and_heads():
    """The guide's heads read the last hidden layer as it is: no extra non-linearity, so the
    mean is affine in the last hidden layer's output."""
    model = pgm.build(
        {
            "image_shape": [1, 8, 8],
            "num_levels": 2,
            "hidden_dims": [16],
            "latent_dim": 2,
            "activation": "tanh",
        }
    )
    g = model.posterior
    x = torch.randint(0, 2, (5, 1, 8, 8)).float()
    h = g.encoder(x)
    assert h.min() < 0  # tanh output reaches the heads unclipped (a ReLU would zero negatives)
    torch.testing.assert_close(g(x).base_dist.loc, g.loc(h))


def test_gated_dense_is_linear_times_sigmoid_gate():
    layer = GatedDense(4, 3)
    x = torch.randn(7, 4)
    expected = layer.h(x) * torch.sigmoid(layer.gate(x))
    torch.testing.assert_close(layer(x), expected)
    net = GatedMLP(4, [5, 6], 2)
    assert [m.out_features for m in net.modules() if isinstance(m, GatedDense)] == [5, 6]
    assert net(x).shape == (7, 2) and net.out_features == 2


def test_make_functions_take_the_network_name():
    for network in ("mlp", "gated-mlp"):
        enc = make_encoder(network, (1, 8, 8), 2, [12, 10])
        dec = make_decoder(network, 4, [10, 12], (1, 8, 8), 1)
        assert enc(torch.zeros(3, 1, 8, 8)).shape == (3, 10) and enc.out_features == 10
        assert dec(torch.zeros(3, 4)).shape == (3, 1, 8, 8, 1)
        assert make_mlp(network, 6, [5], 4)(torch.zeros(2, 6)).shape == (2, 4)
    with pytest.raises(ValueError, match="network: expected one of"):
        make_encoder("resnet", (1, 8, 8), 2, [8])
    with pytest.raises(ValueError, match="activation: expected one of"):
        pgm.build({"image_shape": [1, 8, 8], "num_levels": 2, "activation": "gelu"})
    with pytest.raises(ValueError, match="hidden_dims: expected a non-empty list"):
        pgm.build({"image_shape": [1, 8, 8], "num_levels": 2, "hidden_dims": [0]})


def test_gated_mlp_vae_and_vampprior_build_and_evaluate():
    model = pgm.build(
        {
            "image_shape": [1, 8, 8],
            "num_levels": 2,
            "network": "gated-mlp",
            "hidden_dims": [16, 16],
            "latent_dim": 3,
            "prior": "vamp",
            "num_components": 4,
        }
    )
    x = torch.randint(0, 2, (5, 1, 8, 8)).float()
    z = model.posterior(x).rsample()
    assert torch.isfinite(model.prior().log_prob(z)).all()
    assert model.sample(2).shape == (2, 1, 8, 8)
