"""tb-fmnist-plugin: see why an image classifier is wrong, in TensorBoard.

``attach_hooks`` is imported lazily so that TensorBoard, which loads this
package through its plugin entry point, does not pay for importing torch.
"""
from typing import Any

__version__ = "0.1.0"
__all__ = ["attach_hooks", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "attach_hooks":
        from tb_fmnist_plugin.hooks import attach_hooks

        return attach_hooks
    raise AttributeError(f"module 'tb_fmnist_plugin' has no attribute {name!r}")
