"""PixelCNN and PixelRNN as distributions: normalisation, causality, samples, shapes, validation."""

from __future__ import annotations

import pytest
import torch
from goodness_of_fit import discrete_goodness_of_fit

from pgm.distributions import PixelCNN, PixelRNN
from pgm.nn import GatedPixelCNNNetwork, PixelCNNNetwork

# --- normalisation: sum over every image of exp(log p) = 1 ------------------------------------

ENUMERATED = [
    ((1, 4, 4), 2, "auto", 1),  # all 65,536 binary 4×4 images (one layer: 65,536 is many)
    ((1, 2, 2), 3, "auto", 2),  # all 81 2×2 images with 3 levels, softmax outputs
    ((1, 2, 2), 3, "logistic", 2),  # ... and discretized logistic mixtures
    ((3, 1, 2), 2, "auto", 2),  # all 64 1×2 RGB binary images: the channel order
]


@pytest.mark.parametrize("event_shape,num_levels,output,num_layers", ENUMERATED)
def test_probabilities_sum_to_one(
    architecture, make, images, event_shape, num_levels, output, num_layers
):
    d, _ = make(architecture, event_shape, num_levels, output, num_layers=num_layers)
    with torch.no_grad():
        log_p = d.log_prob(images(event_shape, num_levels))
    assert torch.isfinite(log_p).all()
    assert abs(torch.logsumexp(log_p, 0).exp().item() - 1.0) < 1e-6
    # not trivially uniform: the random weights make the images far from equally likely
    assert log_p.std() > 0.1


def test_normalisation_would_catch_a_leak(make, images):
    """The enumeration test fails for a network that reads the pixel it predicts."""
    d, network = make("pixelcnn", (1, 2, 2), 2)
    network.input_conv.mask.fill_(1.0)  # mask 'A' undone: each output sees its own pixel
    total = torch.logsumexp(d.log_prob(images((1, 2, 2), 2)), 0).exp().item()
    assert abs(total - 1.0) > 1e-3


def test_conditional_probabilities_sum_to_one(architecture, make, images):
    """With a context, each context's distribution is normalised (batch of 3 contexts)."""
    context = torch.randn(3, 4, dtype=torch.float64)
    d, _ = make(architecture, (1, 2, 2), 3, context_shape=(4,), context=context)
    x = images((1, 2, 2), 3).unsqueeze(1)  # (81, 1, 1, 2, 2): broadcast against batch (3,)
    log_p = d.log_prob(x)
    assert log_p.shape == (81, 3)
    torch.testing.assert_close(log_p.logsumexp(0).exp(), torch.ones(3, dtype=torch.float64))
    assert (log_p[:, 0] - log_p[:, 1]).abs().max() > 1e-3  # the context matters


# --- causality by gradients (TFP's testAutoregression) -----------------------------------------


def _dependencies(network, event_shape) -> torch.Tensor:
    """``dep[c, i, j, c', i', j']``: True where the parameters of channel c at pixel (i, j) have a
    non-zero gradient w.r.t. the input value x[c', i', j']."""
    c, h, w = event_shape
    x = torch.randn(1, c, h, w, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: network(v), x)  # (1, C*P, H, W, 1, C, H, W)
    jac = jac[0, :, :, :, 0].reshape(c, -1, h, w, c, h, w).abs().sum(1)
    return jac != 0


def _earlier(event_shape) -> torch.Tensor:
    """``earlier[c, i, j, c', i', j']``: (i', j', c') precedes (i, j, c) in raster, RGB order."""
    c, h, w = event_shape
    order = torch.arange(c * h * w).reshape(h, w, c).permute(2, 0, 1)  # position of (c, i, j)
    return order.reshape(c, h, w, 1, 1, 1) > order.reshape(1, 1, 1, c, h, w)


@pytest.mark.parametrize("event_shape", [(1, 5, 5), (3, 3, 4)])
def test_no_parameter_depends_on_its_pixel_or_later_ones(architecture, make, event_shape):
    _, network = make(architecture, event_shape, 2, hidden_channels=9)
    dependencies = _dependencies(network, event_shape)
    earlier = _earlier(event_shape)
    assert not (dependencies & ~earlier).any(), "a parameter depends on its own or a later value"
    assert dependencies.sum() > 0.3 * earlier.sum()  # and on plenty of earlier ones


def test_causality_test_would_catch_a_channel_leak(make):
    """Giving the mask-A layer a 'B' centre lets G see its own value: the gradient test sees it."""
    event_shape = (3, 3, 3)
    _, network = make("pixelcnn", event_shape, 2, hidden_channels=9)
    conv = network.input_conv
    centre = conv.mask[:, :, 1, 1]
    centre.copy_(torch.ones_like(centre).tril())  # group of feature f reads channels <= it
    conv.mask[:, :, 1, 1] = centre.repeat_interleave(3, 0)[: conv.out_channels, :]
    dependencies = _dependencies(network, event_shape)
    assert (dependencies & ~_earlier(event_shape)).any()


def _gated_receptive_field(event_shape, num_layers) -> torch.Tensor:
    """The pixels a gated PixelCNN (kernels 3, L layers) should see, as ``field[i, j, i', j']``:
    rows i-L-1..i-1 within L columns either side (the vertical stack), and row i's L pixels
    to the left (the horizontal stack)."""
    _, h, w = event_shape
    i, j, k, l = torch.meshgrid(*(torch.arange(n) for n in (h, w, h, w)), indexing="ij")
    above = (k < i) & (k >= i - num_layers - 1) & ((l - j).abs() <= num_layers)
    left = (k == i) & (l < j) & (l >= j - num_layers)
    return above | left


def test_gated_pixelcnn_sees_its_whole_receptive_field_and_plain_one_has_a_blind_spot(make):
    event_shape, layers = (1, 8, 8), 3
    field = _gated_receptive_field(event_shape, layers)
    _, gated = make("gated-pixelcnn", event_shape, 2, hidden_channels=8, num_layers=layers)
    seen = _dependencies(gated, event_shape)[0, :, :, 0]
    assert torch.equal(seen, field)  # every earlier pixel in the field, up-right ones included

    # the plain stack of as many 3×3 layers (mask A, then L - 1 mask-B blocks) spans the box
    # rows i-L..i, columns j-L..j+L, but misses earlier pixels above and to the right of it
    _, plain = make("pixelcnn", event_shape, 2, hidden_channels=8, num_layers=layers - 1)
    seen = _dependencies(plain, event_shape)[0, :, :, 0]
    i, j, k, l = torch.meshgrid(*(torch.arange(n) for n in (8, 8, 8, 8)), indexing="ij")
    box = (k >= i - layers) & ((l - j).abs() <= layers) & ((k < i) | ((k == i) & (l < j)))
    assert not (seen & ~box).any()
    missed = box & ~seen
    assert missed.any()
    i, j, k, l = missed.nonzero().unbind(1)
    assert ((k < i) & (l > j)).all()  # the blind spot: all missed pixels are up and right
    assert missed[5, 4, 4, 6] and field[5, 4, 4, 6]  # e.g. (5, 4) misses (4, 6); gated sees it


# --- samples ---------------------------------------------------------------------------------


def test_naive_samples_follow_log_prob(architecture, make, images):
    """The naive loop, as test_distributions.py checks the cached sampler: Pyro's goodness of
    fit on the 16 binary 2×2 images, 4000 draws, seed 123, level 1e-3."""
    d, _ = make(architecture, (1, 2, 2), 2, weight_scale=0.3)
    torch.manual_seed(123)
    samples = d.sample((4000,), cached=False)
    assert samples.shape == (4000, 1, 2, 2)
    every = images((1, 2, 2), 2)
    assert discrete_goodness_of_fit(samples, every, d.log_prob(every).exp()) > 1e-3


def test_goodness_of_fit_would_catch_a_wrong_sampler(make, images):
    """Samples of one network scored against another's probabilities fail the same test."""
    d, _ = make("gated-pixelcnn", (1, 2, 2), 2, weight_scale=0.3)
    other, _ = make("gated-pixelcnn", (1, 2, 2), 2, weight_scale=0.3, seed=1)
    torch.manual_seed(123)
    every = images((1, 2, 2), 2)
    assert discrete_goodness_of_fit(d.sample((4000,)), every, other.log_prob(every).exp()) < 1e-3


@pytest.mark.parametrize(
    "event_shape,num_levels,output",
    [((1, 5, 4), 2, "auto"), ((3, 3, 4), 4, "auto"), ((3, 3, 3), 5, "logistic")],
)
def test_cached_and_naive_samples_are_identical(
    architecture, make, event_shape, num_levels, output
):
    context = torch.randn(2, 3, dtype=torch.float64)
    d, _ = make(
        architecture,
        event_shape,
        num_levels,
        output,
        context_shape=(3,),
        context=context,
        weight_scale=0.3,
    )
    torch.manual_seed(7)
    fast = d.sample((3,), cached=True)
    torch.manual_seed(7)
    naive = d.sample((3,), cached=False)
    assert fast.shape == (3, 2) + event_shape
    assert torch.equal(fast, naive)
    assert fast.unique().numel() > 1


def test_cached_and_naive_samples_are_identical_in_float32_with_a_context_map(architecture, make):
    """Default-precision networks and spatial conditioning (a map per image) stream too."""
    event_shape = (1, 6, 6)
    context = torch.randn(4, 2, 6, 6)
    d, _ = make(
        architecture,
        event_shape,
        2,
        context_shape=(2, 6, 6),
        context=context,
        hidden_channels=8,
        dtype=torch.float32,
    )
    torch.manual_seed(11)
    fast = d.sample(cached=True)
    torch.manual_seed(11)
    assert torch.equal(fast, d.sample(cached=False))
    assert fast.dtype == torch.float32 and fast.shape == (4,) + event_shape


def test_seed_determines_samples(make):
    d, _ = make("gated-pixelcnn", (1, 4, 4), 2)
    torch.manual_seed(1)
    a = d.sample((5,))
    torch.manual_seed(1)
    b = d.sample((5,))
    torch.manual_seed(2)
    c = d.sample((5,))
    assert torch.equal(a, b) and not torch.equal(a, c)


# --- shapes, expand, particle dims -----------------------------------------------------------


def test_unconditional_shapes_and_expand(architecture, make):
    d, _ = make(architecture, (1, 3, 3), 3)
    assert d.batch_shape == () and d.event_shape == (1, 3, 3)
    x = d.sample((2, 5))
    assert x.shape == (2, 5, 1, 3, 3)
    assert d.log_prob(x).shape == (2, 5)
    e = d.expand((4,))
    assert type(e) is type(d) and e.batch_shape == (4,) and e.event_shape == (1, 3, 3)
    assert e.sample().shape == (4, 1, 3, 3)
    assert e.log_prob(x[0, 0]).shape == (4,)
    torch.testing.assert_close(e.log_prob(x[:, :4]), d.log_prob(x[:, :4]))
    # a leading particle dim on the value broadcasts against the batch
    assert e.log_prob(x[:, :1]).shape == (2, 4)


def test_context_sets_the_batch_shape_and_particle_dims_broadcast(architecture, make):
    """Pyro's vectorised particles add leading dims to z, hence to the context."""
    context = torch.randn(3, 5, 4, dtype=torch.float64)  # (particles, data, D)
    d, _ = make(architecture, (1, 3, 3), 2, context_shape=(4,), context=context)
    assert d.batch_shape == (3, 5)
    x = d.sample()
    assert x.shape == (3, 5, 1, 3, 3)
    data = x[0]  # (5, 1, 3, 3), observed once for every particle
    log_p = d.log_prob(data)
    assert log_p.shape == (3, 5)
    # one parallel pass equals scoring each (particle, datapoint) alone
    single, _ = make(architecture, (1, 3, 3), 2, context_shape=(4,), context=context[2, 1])
    torch.testing.assert_close(log_p[2, 1], single.log_prob(data[1]))
    e = d.expand((2, 3, 5))
    assert e.batch_shape == (2, 3, 5) and e.log_prob(data).shape == (2, 3, 5)
    assert e.context.shape == (2, 3, 5, 4)


def test_output_families(make):
    for output, k in (("bernoulli", 2), ("categorical", 2), ("categorical", 5), ("logistic", 5)):
        d, _ = make("gated-pixelcnn", (3, 2, 2), k, output)
        assert d.output == output
        x = d.sample((4,))
        assert ((x >= 0) & (x <= k - 1) & (x == x.round())).all()
        assert d.log_prob(x).shape == (4,)


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [2.0, -1.0, 0.5, float("nan")])
def test_out_of_support_values_raise(make, bad):
    d, _ = make("gated-pixelcnn", (1, 2, 2), 2)
    x = torch.zeros(3, 1, 2, 2, dtype=torch.float64)
    x[1, 0, 1, 0] = bad
    with pytest.raises(ValueError, match=r"value: expected integer values in \{0, \.\.\., 1\}"):
        d.log_prob(x)


def test_wrong_shapes_raise(make):
    d, _ = make("pixelcnn", (1, 2, 2), 2)
    with pytest.raises(
        ValueError, match=r"value: expected shape \(\.\.\., 1, 2, 2\); found \(3, 1, 2, 3\)"
    ):
        d.log_prob(torch.zeros(3, 1, 2, 3, dtype=torch.float64))
    e = d.expand((4,))
    with pytest.raises(ValueError, match="broadcastable with batch_shape"):
        e.log_prob(torch.zeros(3, 1, 2, 2, dtype=torch.float64))


def test_constructor_errors_name_the_argument():
    net = PixelCNNNetwork(1, 1)
    with pytest.raises(ValueError, match=r"network: expected out_channels = C \* P = 3"):
        PixelCNN(net, (1, 4, 4), 3)
    with pytest.raises(ValueError, match="network: expected image_channels = 3"):
        PixelCNN(net, (3, 4, 4), 2)
    with pytest.raises(ValueError, match="num_levels: expected an integer >= 2"):
        PixelCNN(net, (1, 4, 4), 1)
    with pytest.raises(ValueError, match="context: the network is unconditional"):
        PixelCNN(net, (1, 4, 4), 2, context=torch.zeros(2, 3))
    with pytest.raises(ValueError, match="output: 'bernoulli' expects num_levels = 2"):
        PixelCNN(PixelCNNNetwork(1, 4), (1, 4, 4), 4, output="bernoulli")
    conditional = GatedPixelCNNNetwork(1, 1, 8, 1, context_shape=(5,))
    with pytest.raises(ValueError, match=r"context: expected shape \(\.\.\., 5\); found \(2, 4\)"):
        PixelCNN(conditional, (1, 4, 4), 2, context=torch.zeros(2, 4))
    with pytest.raises(TypeError, match="network: expected an AutoregressiveNetwork"):
        PixelRNN(torch.nn.Conv2d(1, 1, 1), (1, 4, 4), 2)


def test_nan_context_is_refused_under_validation(make):
    context = torch.full((2, 4), float("nan"), dtype=torch.float64)
    with pytest.raises(ValueError, match="context"):
        make("gated-pixelcnn", (1, 2, 2), 2, context_shape=(4,), context=context)


def test_gradients_reach_every_parameter(architecture, make):
    context = torch.randn(2, 3, dtype=torch.float64)
    d, network = make(architecture, (1, 3, 3), 4, "logistic", context_shape=(3,), context=context)
    x = torch.randint(0, 4, (2, 1, 3, 3)).double()
    d.log_prob(x).sum().backward()
    for name, p in network.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_sampling_leaves_no_stream_open(make):
    d, network = make("row-lstm", (1, 3, 3), 2)
    d.sample((2,))
    assert all(getattr(m, "_cursor", None) is None for m in network.modules())
    assert torch.isfinite(d.log_prob(d.sample((2,)))).all()
