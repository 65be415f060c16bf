"""tb-fmnist-plugin: see why an image classifier is wrong, in TensorBoard.

The package root imports nothing heavy: TensorBoard imports it when it loads
the plugin, and must not pay for torch. The training-side API lives in
:mod:`tb_fmnist_plugin.hooks` (``from tb_fmnist_plugin.hooks import
attach_hooks``); the format's write API in :mod:`tb_fmnist_plugin.summary`.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
