"""The synthetic Fashion-MNIST and the real-data path of the training command."""
from __future__ import annotations

import os
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms
from torchvision.datasets import FashionMNIST

from tb_fmnist_plugin.fmnist import cli, synthetic
from tb_fmnist_plugin.fmnist.data import load_fashion_mnist
from tb_fmnist_plugin.fmnist.synthetic import SyntheticFashionMNIST


def _fresh(**kwargs) -> SyntheticFashionMNIST:
    return SyntheticFashionMNIST(cache=False, **kwargs)


def test_deterministic_for_a_seed_and_different_across_seeds_and_splits() -> None:
    a = _fresh(size=500, seed=3)
    b = _fresh(size=500, seed=3)
    assert torch.equal(a.data, b.data) and torch.equal(a.targets, b.targets)
    other_seed = _fresh(size=500, seed=4)
    assert not torch.equal(a.data, other_seed.data)
    test_split = _fresh(size=500, seed=3, train=False)
    assert not torch.equal(a.data, test_split.data)


def test_tensor_format_matches_torchvision(tmp_path) -> None:
    _write_idx_dataset(tmp_path, train_count=20, test_count=10)
    real = FashionMNIST(str(tmp_path), train=True)
    dataset = SyntheticFashionMNIST(size=20)
    assert isinstance(dataset, torch.utils.data.Dataset)
    assert dataset.classes == real.classes == synthetic.CLASSES
    assert dataset.class_to_idx == real.class_to_idx
    for attribute in ("data", "targets"):
        mine, theirs = getattr(dataset, attribute), getattr(real, attribute)
        assert mine.dtype == theirs.dtype, attribute
        assert mine.shape[1:] == theirs.shape[1:], attribute
    assert dataset.data.shape == (20, 28, 28)
    image, label = dataset[0]
    real_image, real_label = real[0]
    assert isinstance(image, Image.Image) and image.mode == real_image.mode == "L"
    assert image.size == real_image.size == (28, 28)
    assert type(label) is type(real_label) is int
    assert np.array_equal(np.asarray(image), dataset.data[0].numpy())
    assert len(dataset) == 20 and dataset.train


def test_transforms_are_applied() -> None:
    ds = SyntheticFashionMNIST(
        size=10,
        transform=transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]),
        target_transform=lambda y: y + 100,
    )
    image, label = ds[3]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert float(image.min()) >= -1.0 and float(image.max()) <= 1.0
    assert label == int(ds.targets[3]) + 100


def test_default_sizes_balanced_classes_and_real_content() -> None:
    test_split = SyntheticFashionMNIST(train=False)
    assert len(test_split) == 10_000
    counts = torch.bincount(test_split.targets, minlength=10)
    assert counts.tolist() == [1000] * 10
    assert len(SyntheticFashionMNIST(train=True)) == 60_000
    # Every image has an object on a dark background.
    data = test_split.data.float()
    assert (data.amax(dim=(1, 2)) > 60).all()
    corners = torch.cat([data[:, :2, :2].reshape(-1), data[:, -2:, -2:].reshape(-1)])
    assert float(corners.mean()) < 10


def test_disk_cache_round_trip_and_corrupt_file(tmp_path) -> None:
    first = _fresh(root=tmp_path, size=300, seed=11)
    assert not list(tmp_path.rglob("*.npz")), "cache=False must not write"
    cached = SyntheticFashionMNIST(root=tmp_path, size=300, seed=11)
    files = list(tmp_path.rglob("*.npz"))
    assert len(files) == 1 and f"v{synthetic.GENERATOR_VERSION}" in str(files[0])
    synthetic._memory_cache.clear()
    loaded = synthetic._load_cached(str(files[0]), 300)
    assert loaded is not None and np.array_equal(loaded[0], first.data.numpy())
    again = SyntheticFashionMNIST(root=tmp_path, size=300, seed=11)
    assert torch.equal(again.data, first.data) and torch.equal(cached.targets, first.targets)
    files[0].write_bytes(b"not an npz file")
    synthetic._memory_cache.clear()
    assert synthetic._load_cached(str(files[0]), 300) is None
    rebuilt = SyntheticFashionMNIST(root=tmp_path, size=300, seed=11)
    assert torch.equal(rebuilt.data, first.data)


def test_bad_size_is_rejected() -> None:
    with pytest.raises(ValueError, match="size"):
        SyntheticFashionMNIST(size=0)


# --- Real Fashion-MNIST through the command -------------------------------------------


def _write_idx(path, array: np.ndarray) -> None:
    """IDX file as in the Fashion-MNIST distribution (uncompressed, as torchvision reads it)."""
    magic = 0x0800 | array.ndim
    with open(path, "wb") as handle:
        handle.write(struct.pack(">I", magic))
        handle.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        handle.write(array.astype(np.uint8).tobytes())


def _write_idx_dataset(root, train_count: int, test_count: int) -> tuple:
    raw = os.path.join(str(root), "FashionMNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    train_images, train_labels = synthetic.generate_synthetic(train_count, seed=5, train=True)
    test_images, test_labels = synthetic.generate_synthetic(test_count, seed=5, train=False)
    _write_idx(os.path.join(raw, "train-images-idx3-ubyte"), train_images)
    _write_idx(os.path.join(raw, "train-labels-idx1-ubyte"), train_labels)
    _write_idx(os.path.join(raw, "t10k-images-idx3-ubyte"), test_images)
    _write_idx(os.path.join(raw, "t10k-labels-idx1-ubyte"), test_labels)
    return train_images, train_labels, test_images, test_labels


def test_real_data_files_load_and_train_through_the_command(tmp_path, capsys) -> None:
    _, _, test_images, test_labels = _write_idx_dataset(tmp_path / "data", train_count=192, test_count=70)
    loaded = load_fashion_mnist(tmp_path / "data", train=False)
    assert np.array_equal(loaded.data.numpy(), test_images)
    assert np.array_equal(loaded.targets.numpy(), test_labels)
    code = cli.main([
        "--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "data"), "--epochs", "1",
        "--logdir", str(tmp_path / "run"), "--no-progress", "--no-hooks",
    ])
    out = capsys.readouterr().out
    assert code == 0
    assert "fashion-mnist data (192 train / 70 test images)" in out
    assert "Test Accuracy" in out and "tensorboard --logdir" in out


def test_missing_real_data_exits_2_naming_both_remedies(tmp_path, capsys) -> None:
    code = cli.main(["--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "empty"),
                       "--logdir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert "--download" in err and "--dataset synthetic" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.subprocess
def test_missing_real_data_subprocess_has_no_traceback(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tb_fmnist_plugin.train", "--dataset", "fashion-mnist",
         "--data-dir", str(tmp_path / "empty"), "--logdir", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "--download" in proc.stderr and "--dataset synthetic" in proc.stderr
