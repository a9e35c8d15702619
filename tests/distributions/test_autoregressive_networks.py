"""The networks behind the distributions: masks, skew, streaming equals the full pass."""

from __future__ import annotations

import pytest
import torch

from pgm.nn import (
    GatedPixelCNNNetwork,
    MaskedConv2d,
    PixelCNNNetwork,
    PixelRNNNetwork,
    causal_mask,
    channel_groups,
    skew,
    unskew,
)


def test_mask_a_and_b_centre_follow_rgb_order():
    # 3 input channels (R, G, B) to 6 features (two per group)
    a = causal_mask(6, 3, (3, 3), "A", image_channels=3)
    b = causal_mask(6, 3, (3, 3), "B", image_channels=3)
    expected_a = torch.tensor([[0, 0, 0], [0, 0, 0], [1, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 0]])
    assert torch.equal(a[:, :, 1, 1], expected_a.float())
    assert torch.equal(b[:, :, 1, 1], (expected_a + torch.eye(3).repeat_interleave(2, 0)).float())
    # spatially: everything above, left of the centre in its row, nothing below or right
    spatial = torch.tensor([[1, 1, 1], [1, 0, 0], [0, 0, 0]]).float()
    assert torch.equal(a[0, 0], spatial)
    assert torch.equal(
        causal_mask(1, 1, (3, 3), "V"), torch.tensor([[[[1, 1, 1], [1, 1, 1], [0, 0, 0]]]]).float()
    )


def test_channel_groups_with_chunks_keep_gates_aligned():
    groups = channel_groups(12, 3, chunks=2)  # tanh half and sigmoid half
    assert torch.equal(groups[:6], groups[6:])
    assert torch.equal(groups[:6], torch.tensor([0, 0, 1, 1, 2, 2]))


def test_masked_weights_get_no_gradient_and_the_mask_is_saved():
    conv = MaskedConv2d(2, 4, 5, "A")
    conv(torch.randn(3, 2, 6, 6)).sum().backward()
    assert (conv.weight.grad[conv.mask == 0] == 0).all()
    assert (conv.weight.grad[conv.mask == 1] != 0).any()
    assert "mask" in conv.state_dict()
    with pytest.raises(ValueError, match="kernel_size: expected odd sizes"):
        MaskedConv2d(1, 4, 4, "A")
    with pytest.raises(ValueError, match="mask_type"):
        MaskedConv2d(1, 4, 3, "C")


def test_skew_puts_diagonals_in_columns_and_unskew_inverts_it():
    x = torch.arange(12.0).reshape(1, 1, 3, 4)
    s = skew(x)
    assert s.shape == (1, 1, 3, 6)
    for r in range(3):
        for c in range(4):
            assert s[0, 0, r, r + c] == x[0, 0, r, c]  # column k holds the diagonal r + c = k
    assert (s != 0).sum() == 11  # x[0, 0, 0, 0] is zero; the rest of s is padding
    assert torch.equal(unskew(s, 4), x)


NETWORKS = {
    "pixelcnn": lambda c, out, ctx: PixelCNNNetwork(c, out, 8, 2, 3, 5, ctx),
    "gated-pixelcnn": lambda c, out, ctx: GatedPixelCNNNetwork(c, out, 8, 3, 3, 5, ctx),
    "row-lstm": lambda c, out, ctx: PixelRNNNetwork(c, out, 8, 2, "row-lstm", 3, 5, ctx),
    "diagonal-bilstm": lambda c, out, ctx: PixelRNNNetwork(
        c, out, 8, 2, "diagonal-bilstm", 3, 5, ctx
    ),
}


@pytest.mark.parametrize("name", list(NETWORKS))
@pytest.mark.parametrize("context_shape", [None, (3,), (2, 5, 4)], ids=["none", "vector", "map"])
def test_pixel_steps_equal_the_full_pass(name, context_shape):
    """Stepping through every pixel (and channel) in raster order gives the full pass's outputs."""
    torch.manual_seed(0)
    network = NETWORKS[name](3, 6, context_shape).double()
    x = torch.randn(2, 3, 5, 4, dtype=torch.float64)
    context = (
        None if context_shape is None else torch.randn((2,) + context_shape, dtype=torch.float64)
    )
    with torch.no_grad():
        full = network(x, context)
        with network.stream(context, 2, 5, 4, x) as step:
            for i in range(5):
                for j in range(4):
                    for _ in range(3):  # the sampler asks once per channel
                        torch.testing.assert_close(step(x, i, j), full[:, :, i, j])
    assert network.supports_streaming


def test_diagonal_bilstm_stream_needs_the_skew_padding_states(monkeypatch):
    """The full pass's skew pads each row with zeros the LSTM runs over, leaving a non-zero
    state beside (i, 0) and (i, W - 1); a stream that took it for zero would drift (float64)."""
    from pgm.nn import DiagonalLSTM

    torch.manual_seed(0)
    network = PixelRNNNetwork(1, 1, 8, 2, "diagonal-bilstm", 3, 5).double()
    x = torch.randn(2, 1, 6, 4, dtype=torch.float64)
    with torch.no_grad():
        full = network(x)

    def worst_error():
        with torch.no_grad(), network.stream(None, 2, 6, 4, x) as step:
            return max(
                (step(x, i, j) - full[:, :, i, j]).abs().max().item()
                for i in range(6)
                for j in range(4)
            )

    assert worst_error() < 1e-12
    edge_states = DiagonalLSTM.edge_states
    monkeypatch.setattr(
        DiagonalLSTM,
        "edge_states",
        lambda self, steps, like: tuple(
            torch.zeros_like(t) for t in edge_states(self, steps, like)
        ),
    )
    assert worst_error() > 1e-4


def test_context_shape_is_checked():
    network = GatedPixelCNNNetwork(1, 1, 8, 2, context_shape=(3,))
    with pytest.raises(ValueError, match=r"context: expected shape \(2, 3\); found \(2, 4\)"):
        network(torch.zeros(2, 1, 4, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="found None"):
        network(torch.zeros(2, 1, 4, 4))
    with pytest.raises(ValueError, match="unconditional"):
        PixelCNNNetwork(1, 1)(torch.zeros(2, 1, 4, 4), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="layer: expected one of"):
        PixelRNNNetwork(1, 1, layer="grid-lstm")
