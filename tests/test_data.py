"""Data loaders: the embedded digits, the real .npz files in ../shared/data, and torchvision's
layout on tiny files written here."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch

from pgm.data import SPLITS, load_dataset


@pytest.mark.parametrize("name,levels", [("digits", 17), ("digits-binary", 2)])
def test_digits_splits_are_fixed_disjoint_and_complete(name, levels):
    parts = {s: load_dataset(name, s) for s in SPLITS}
    assert [len(parts[s]) for s in SPLITS] == [1257, 180, 360]
    for ds in parts.values():
        assert ds.images.dtype == torch.uint8 and ds.images.shape[1:] == (1, 8, 8)
        assert ds.num_levels == levels and int(ds.images.max()) == levels - 1
        assert ds.labels is not None and set(ds.labels.tolist()) == set(range(10))
    # disjoint: no image index appears twice (compare whole images with labels as rows)
    from sklearn.datasets import load_digits

    rows = {tuple(r) for r in load_digits().images.reshape(-1, 64).astype(int).tolist()}
    seen = [tuple(x) for s in SPLITS for x in parts[s].images.view(-1, 64).int().tolist()]
    if name == "digits":
        assert len(set(seen)) == len(rows)  # every distinct image appears, none lost
    assert torch.equal(load_dataset(name, "test").images, parts["test"].images)  # seeded


def test_binarized_mnist_from_shared_data(shared_data):
    train = load_dataset("binarized-mnist", "train", shared_data)
    valid = load_dataset("binarized-mnist", "valid", shared_data)
    assert train.images.shape == (50000, 1, 28, 28) and valid.images.shape == (10000, 1, 28, 28)
    assert train.num_levels == 2 and set(torch.unique(valid.images).tolist()) == {0, 1}
    # the mean of binarized MNIST is about 0.13 (MNIST's mean grey level 33.3/255)
    assert abs(train.images.float().mean().item() - 0.1307) < 0.01
    with pytest.raises(ValueError, match="split 'test': binarized_mnist.npz has no array 'test'"):
        load_dataset("binarized-mnist", "test", shared_data)


def test_mnist_from_shared_data(shared_data):
    train = load_dataset("mnist", "train", shared_data)
    test = load_dataset("mnist", "test", shared_data)
    assert train.images.shape == (50000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert train.num_levels == 256 and test.labels[:5].tolist() == [7, 2, 1, 0, 4]


def test_missing_file_names_the_path_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("PGM_DATA_DIR", raising=False)
    with pytest.raises(
        FileNotFoundError, match=str(tmp_path / "binarized_mnist.npz") + ".*--data-dir"
    ):
        load_dataset("binarized-mnist", "train", tmp_path)
    monkeypatch.setenv("PGM_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="mnist.npz"):
        load_dataset("mnist", "train")


def test_corrupted_npz_is_named(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="mnist.npz is not a readable .npz"):
        load_dataset("mnist", "train", tmp_path)


def test_unknown_dataset_and_split_list_valid_names():
    with pytest.raises(ValueError, match="data: expected one of .*digits.*; found 'imagenet'"):
        load_dataset("imagenet")
    with pytest.raises(ValueError, match="split: expected one of train, valid, test; found 'dev'"):
        load_dataset("digits", "dev")


def _write_idx(path, array: np.ndarray) -> None:
    magic = {1: 0x801, 3: 0x803}[array.ndim]
    with open(path, "wb") as f:
        f.write(struct.pack(">i", magic))
        f.writelines(struct.pack(">i", d) for d in array.shape)
        f.write(array.astype(np.uint8).tobytes())


def test_fashion_mnist_through_torchvision_layout(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.RandomState(0)
    train_x, test_x = rng.randint(0, 256, (24, 28, 28)), rng.randint(0, 256, (6, 28, 28))
    _write_idx(raw / "train-images-idx3-ubyte", train_x)
    _write_idx(raw / "train-labels-idx1-ubyte", rng.randint(0, 10, 24))
    _write_idx(raw / "t10k-images-idx3-ubyte", test_x)
    _write_idx(raw / "t10k-labels-idx1-ubyte", rng.randint(0, 10, 6))
    train = load_dataset("fashion-mnist", "train", tmp_path)
    valid = load_dataset("fashion-mnist", "valid", tmp_path)
    test = load_dataset("fashion-mnist", "test", tmp_path)
    assert len(train) + len(valid) == 24 and len(test) == 6
    assert train.images.shape[1:] == (1, 28, 28) and train.num_levels == 256
    assert torch.equal(test.images[:, 0], torch.from_numpy(test_x.astype(np.uint8)))
    assert torch.equal(valid.images[-1, 0], torch.from_numpy(train_x[-1].astype(np.uint8)))


def test_torchvision_dataset_absent_offline_says_how_to_get_it(tmp_path):
    # the way it names exists: the config key (there is no --download flag)
    with pytest.raises(
        FileNotFoundError,
        match=r"fashion-mnist: torchvision found no usable files.*set download = true "
        r"\(--set download=true\)",
    ):
        load_dataset("fashion-mnist", "train", tmp_path)
