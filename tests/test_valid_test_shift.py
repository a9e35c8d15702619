"""The validation-to-test shift benchmark's two data steps: matching each binarized image to the
grey image it was drawn from, and drawing a static binarization."""

import uuid

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


def test_two_draws_of_one_digit_get_two_sources_one_to_one():
    # seed 2: source 0 is duplicated at index 1 (MNIST has near-duplicates); two draws of it
    # must take one each, never both the same index
    gen = np.random.default_rng(2)
    grey = gen.integers(0, 256, size=(20, 64)).astype(np.uint8)
    grey[1] = grey[0]
    binary = binarize(grey[[0, 0, 5]], gen)
    index, _ = match_sources(binary, grey)
    assert sorted(index[:2].tolist()) == [0, 1] and index[2] == 5


@pytest.mark.parametrize(
    "argv, message",
    [
        (["-k", "0"], "-k/--num-particles: expected an integer in 1..100000; found 0"),
        (["--threads", "0"], "--threads: expected an integer in 1..1024; found 0"),
        (["--seed", "-1"], "--seed: expected an integer in 0..2147483645; found -1"),
        (["--num-images", "1"], "--num-images: expected an integer in 2..10000; found 1"),
    ],
)
def test_bad_arguments_are_refused_in_one_line_before_any_work(tmp_path, capsys, argv, message):
    from benchmarks.valid_test_shift import main

    with pytest.raises(SystemExit) as e:
        main([str(tmp_path), "--data-dir", str(tmp_path), *argv])
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_missing_data_is_one_line_naming_the_file(tmp_path, capsys):
    from benchmarks.valid_test_shift import main

    assert main([str(tmp_path / "no-run"), "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("valid_test_shift: ") and err.count("\n") == 1
    assert "binarized_mnist.npz" in err


def test_a_plugin_run_is_scored_with_the_plugin_named_and_refused_without(
    tmp_path, capsys, shared_data
):
    """A binarized-MNIST run trained with a plug-in prior: without ``--plugin`` it is refused in
    one line before any code is imported; with it, it is scored. A run without its final
    weights is pointed at this benchmark's own ``--checkpoint best``."""
    import shutil

    from benchmarks.valid_test_shift import main
    from pgm import plugins
    from pgm_cli.main import main as pgm_main

    tag = f"vts{uuid.uuid4().hex[:8]}"
    plugin = tmp_path / f"plug_{tag}.py"
    plugin.write_text(
        "import pyro.distributions as dist\nimport torch\nfrom torch import nn\nimport pgm\n\n"
        "class Laplace(nn.Module):\n    def __init__(self, d):\n        super().__init__()\n"
        "        self.register_buffer('loc', torch.zeros(d))\n\n    def forward(self):\n"
        "        return dist.Laplace(self.loc, torch.ones_like(self.loc)).to_event(1)\n\n"
        f"pgm.PRIORS.register('{tag}-laplace')(lambda cfg: Laplace(cfg['latent_dim']))\n"
    )
    conf = tmp_path / "c.toml"
    conf.write_text(
        f'data = "binarized-mnist"\nprior = "{tag}-laplace"\nlatent_dim = 2\nhidden_dims = [8]\n'
        'num_train = 64\nepochs = 1\ndevice = "cpu"\n'
    )
    run = tmp_path / "run"
    saved = plugins.snapshot()
    try:
        argv = ["train", str(conf), "--out", str(run), "--plugin", str(plugin)]
        assert pgm_main([*argv, "--data-dir", str(shared_data), "--no-progress"]) == 0
        plugins.restore(saved)  # as a new process: nothing of the plug-in loaded
        capsys.readouterr()
        small = ["--data-dir", str(shared_data), "--num-images", "4", "-k", "2"]
        assert main([str(run), *small]) == 2
        err = capsys.readouterr().err
        assert err.startswith("valid_test_shift: ") and err.count("\n") == 1
        assert "--plugin" in err and tag in err
        assert main([str(run), *small, "--plugin", str(plugin)]) == 0
        assert "| proxy-test | 4 |" in capsys.readouterr().out
    finally:
        plugins.restore(saved)
    bare = tmp_path / "bare"
    shutil.copytree(run, bare)
    (bare / "model.safetensors").unlink()
    assert main([str(bare), *small]) == 2
    err = capsys.readouterr().err
    assert (
        "found none (training did not finish: score its newest checkpoint with --checkpoint" in err
    )


def test_options_are_never_abbreviated(tmp_path, capsys):
    """``--data`` is not taken as ``--data-dir`` (nor ``--num-part`` as ``--num-particles``)."""
    from benchmarks.valid_test_shift import main

    for argv in (["--data", str(tmp_path)], ["--num-part", "5"]):
        with pytest.raises(SystemExit) as e:
            main([str(tmp_path), *argv])
        err = capsys.readouterr().err
        assert e.value.code == 2 and f"unrecognized arguments: {argv[0]}" in err


def test_test_only_scores_the_proxy_test_images_with_a_full_runs_draws(
    tmp_path, capsys, shared_data
):
    """``--test-only`` scores proxy-test alone with the binarization and estimator draws a full
    run gives it (the same numbers, a third of the work) and says the check was not made."""
    from benchmarks.valid_test_shift import main
    from pgm_cli.main import main as pgm_main

    conf = tmp_path / "c.toml"
    conf.write_text(
        'data = "binarized-mnist"\nlatent_dim = 2\nhidden_dims = [8]\nnum_train = 64\n'
        'epochs = 1\ndevice = "cpu"\n'
    )
    run = tmp_path / "run"
    assert pgm_main(["train", str(conf), "--out", str(run), "--data-dir", str(shared_data)]) == 0
    small = [str(run), "--data-dir", str(shared_data), "--num-images", "6", "-k", "3"]
    capsys.readouterr()
    assert main(small) == 0
    full = capsys.readouterr().out
    assert main([*small, "--test-only"]) == 0
    alone = capsys.readouterr().out
    row = next(line for line in full.splitlines() if line.startswith("| proxy-test |"))
    assert row in alone.splitlines()
    assert "| valid |" not in alone and "the proxy's check was not made" in alone
