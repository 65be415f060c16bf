"""Packaging for tb-fmnist-plugin.

``hooks/`` lives at the repository root but is installed as the subpackage
``tb_fmnist_plugin.hooks`` so it never shadows (or is shadowed by) an unrelated
top-level ``hooks`` module.
"""
from setuptools import setup

setup(
    name="tb-fmnist-plugin",
    version="0.3.0",
    description=(
        "Per-class confusion analysis for image classifiers in TensorBoard: "
        "PyTorch logging hooks plus a TensorBoard plugin."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=[
        "tb_fmnist_plugin",
        "tb_fmnist_plugin.format",
        "tb_fmnist_plugin.server",
        "tb_fmnist_plugin.fmnist",
        "tb_fmnist_plugin.hooks",
        "tb_fmnist_plugin.integrations",
    ],
    package_dir={
        "tb_fmnist_plugin": "tb_fmnist_plugin",
        "tb_fmnist_plugin.hooks": "hooks",
    },
    package_data={"tb_fmnist_plugin": ["static/*", "static/**/*"]},
    include_package_data=False,
    install_requires=[
        "torch>=2.0,<3",
        "torchvision>=0.15,<1",
        # 2.14-2.20 import pkg_resources (gone from setuptools 81) and 2.14-2.16 use
        # np.string_ (gone from numpy 2): 2.21 is the first that starts beside what pip
        # resolves today (tests/server/test_tensorboard_range.py installs this floor).
        "tensorboard>=2.21,<3",
        "protobuf>=3.20",
        "numpy>=1.21",
        "tqdm>=4.60",
        "setuptools",
    ],
    extras_require={
        "test": [
            "pytest>=7",
            "playwright>=1.40",
            "pytest-timeout>=2.1",
            "ruff>=0.5",  # the Python lint .ci/run runs
            "lightning>=2.0",
            "transformers>=4.40",
            "accelerate>=0.26",
            "cleanlab>=2.6,<3",  # reference for the confident-learning tests
            "torchmetrics>=1.0",  # reference for the segmentation and token-classification tests
            "moto[s3,server]>=5",  # an S3-compatible server on 127.0.0.1 (tests/server/test_s3_logdir.py)
            "s3fs",  # fsspec's S3 file system, TensorBoard's other way to read s3:// logdirs
        ],
        "lightning": ["lightning>=2.0"],
        "transformers": ["transformers>=4.40", "accelerate>=0.26"],
        "benchmark": ["wandb", "psutil"],
    },
    entry_points={
        "tensorboard_plugins": [
            "tb_fmnist_confusion = tb_fmnist_plugin.server.plugin:ConfusionLoader",
        ],
        "console_scripts": [
            "tb-fmnist-train = tb_fmnist_plugin.fmnist.cli:main",
        ],
    },
    classifiers=[
        "Framework :: PyTorch",
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: Apache Software License",
    ],
)
