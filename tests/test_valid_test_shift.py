"""The validation-to-test shift benchmark's two data steps: matching each binarized image to the
grey image it was drawn from, and drawing a static binarization."""

import numpy as np
import pytest

from benchmarks.valid_test_shift import binarize, match_sources


def test_match_sources_recovers_which_grey_image_each_binarization_came_from():
    # seed 0: 300 grey "images" of 64 pixels, 40% of them blank (p = 0), the rest uniform grey;
    # 120 of them binarized once, in shuffled order; every source must be recovered
    gen = np.random.default_rng(0)
    grey = gen.integers(0, 256, size=(300, 64)).astype(np.uint8)
    grey[gen.random(grey.shape) < 0.4] = 0
    order = gen.permutation(300)[:120]
    binary = binarize(grey[order], gen)
    index, margin = match_sources(binary, grey, block=50)
    np.testing.assert_array_equal(index, order)
    assert (margin > 0).all()


def test_binarize_draws_each_pixel_on_with_probability_grey_over_255():
    # 200,000 draws per level; tolerance 5 standard errors of a proportion (<= 0.0056)
    gen = np.random.default_rng(1)
    levels = np.array([0, 1, 64, 128, 200, 255], dtype=np.uint8)
    on = binarize(np.repeat(levels[None], 200_000, axis=0), gen).mean(0)
    p = levels / 255.0
    np.testing.assert_allclose(on, p, atol=5 * np.sqrt(0.25 / 200_000))
    assert on[0] == 0.0 and on[-1] == 1.0


def test_match_sources_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="same D"):
        match_sources(np.zeros((2, 5), np.uint8), np.zeros((3, 4), np.uint8))
