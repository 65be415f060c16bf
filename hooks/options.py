"""The options of :func:`~tb_fmnist_plugin.hooks.attach_hooks` as one value.

The fields of :class:`HookOptions` are the one list of options: the keyword
options ``attach_hooks`` accepts, its signature (what ``help()`` shows) and
the options the framework callbacks pass on all come from them. Building a
``HookOptions`` checks every value, so a monitor only ever holds checked ones.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple, Union

from torch import nn

from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.format.checks import check_int
from tb_fmnist_plugin.format.example_record import DEFAULT_THUMBNAILS_MAX_BYTES

from .calibration import DEFAULT_CALIBRATION_BINS
from .label_issues import DEFAULT_MAX_SUSPECTS, DEFAULT_TOPK
from .stats import DEFAULT_HISTOGRAM_SAMPLE
from .thumbnails import DEFAULT_THUMBNAIL_SIZE

#: ``None`` (every leaf module), module names, or ``(name, module) -> bool``.
ModuleFilter = Union[None, Sequence[str], Callable[[str, nn.Module], bool]]
#: A ``Normalize`` mean or std: one number, or one per channel.
Number = Union[float, Sequence[float]]

#: Integer options and their smallest allowed value.
_INTEGER_MINIMUMS = (
    ("log_every", 1),
    ("histogram_bins", 1),
    ("histogram_sample", 1),
    ("examples_per_cell", 0),
    ("max_misclassified", 0),
    ("grid_columns", 1),
    ("thumbnail_size", 1),
    ("calibration_bins", 1),
    ("label_issue_topk", 1),
    ("max_suspects", 0),
    ("example_thumbnails_max_bytes", 0),
)


@dataclasses.dataclass(frozen=True)
class HookOptions:
    """How a monitor logs: the keyword options of ``attach_hooks`` (see
    ``docs/hooks.md``), checked and normalized when constructed.

    Sequences are stored as tuples. The model, writer, optimizer,
    ``example_input`` and ``grad_scaler`` are not options: they are what the
    monitor hooks or holds (and ``remove()`` lets go of).
    """

    class_names: Optional[Tuple[str, ...]] = None
    log_every: int = 100
    modules: ModuleFilter = None
    histogram_bins: int = 30
    histogram_sample: int = DEFAULT_HISTOGRAM_SAMPLE
    log_activations: bool = True
    log_gradients: bool = True
    log_weights: bool = True
    log_updates: bool = True
    log_graph: bool = True
    eval_name: str = "test"
    examples_per_cell: int = 4
    max_misclassified: int = 64
    grid_columns: int = 8
    image_mean: Number = 0.5
    image_std: Number = 0.5
    thumbnail_size: int = DEFAULT_THUMBNAIL_SIZE
    log_calibration: bool = True
    calibration_bins: int = DEFAULT_CALIBRATION_BINS
    log_label_issues: bool = True
    label_issue_topk: int = DEFAULT_TOPK
    max_suspects: int = DEFAULT_MAX_SUSPECTS
    example_record: bool = True
    example_thumbnails_max_bytes: int = DEFAULT_THUMBNAILS_MAX_BYTES
    class_dim: int = 1
    ignore_index: Optional[int] = -100

    def __post_init__(self) -> None:
        if self.class_names is not None:
            names = metadata.validate_class_names(self.class_names, distinct=True)
            self._set("class_names", tuple(names))
        for name, minimum in _INTEGER_MINIMUMS:
            self._set(name, check_int(getattr(self, name), name, minimum))
        if isinstance(self.class_dim, bool) or not isinstance(self.class_dim, numbers.Integral):
            raise ValueError(f"class_dim must be an integer (1: outputs (N, C, ...); -1: (N, ..., C)), got {self.class_dim!r}")
        self._set("class_dim", int(self.class_dim))
        if self.ignore_index is not None:
            if isinstance(self.ignore_index, bool) or not isinstance(self.ignore_index, numbers.Integral):
                raise ValueError(f"ignore_index must be an integer label or None, got {self.ignore_index!r}")
            self._set("ignore_index", int(self.ignore_index))
        if not isinstance(self.eval_name, str) or not self.eval_name:
            raise ValueError(f"eval_name must be a non-empty string, got {self.eval_name!r}")
        for name in ("image_mean", "image_std"):
            self._set(name, _check_mean_or_std(getattr(self, name), name))
        if isinstance(self.modules, str):
            self._set("modules", (self.modules,))
        elif self.modules is not None and not callable(self.modules):
            self._set("modules", tuple(self.modules))

    @classmethod
    def option_names(cls) -> Tuple[str, ...]:
        """Every option's name, in field order (what callers may pass by keyword)."""
        return tuple(field.name for field in dataclasses.fields(cls))

    @classmethod
    def from_keywords(cls, values: Mapping[str, Any], base: Optional["HookOptions"] = None, caller: str = "attach_hooks") -> "HookOptions":
        """``base`` (default: every option's default) with ``values`` replaced,
        checked. A name that is no option raises ``TypeError`` naming it and
        the options, as Python does for an unexpected keyword argument of
        ``caller``."""
        base = as_options(base)
        known = cls.option_names()
        unknown = [name for name in values if name not in known]
        if unknown:
            raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}; its options are: {', '.join(known)}")
        return dataclasses.replace(base, **values) if values else base

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)  # normalizing a frozen instance while it is built

    @property
    def num_classes(self) -> Optional[int]:
        """Classes named by ``class_names``; None means "from the first batch"."""
        return len(self.class_names) if self.class_names is not None else None

    def select_modules(self, root: nn.Module) -> List[Tuple[str, nn.Module]]:
        """The named submodules of ``root`` that get activation statistics."""
        if not self.log_activations:
            return []
        named = [(n, m) for n, m in root.named_modules() if n]
        if self.modules is None:
            return [(n, m) for n, m in named if not any(True for _ in m.children())]
        if callable(self.modules):
            return [(n, m) for n, m in named if self.modules(n, m)]
        known = dict(named)
        unknown = [n for n in self.modules if n not in known]
        if unknown:
            raise ValueError(f"modules not found in the model: {unknown}; known names include {list(known)[:8]}")
        return [(n, known[n]) for n in self.modules]


def as_options(value: Optional[HookOptions]) -> HookOptions:
    """``value`` if it is a :class:`HookOptions` (checked when it was built),
    the defaults for None, else ``TypeError``."""
    if value is None:
        return _DEFAULTS
    if not isinstance(value, HookOptions):
        raise TypeError(f"options must be a tb_fmnist_plugin.hooks.HookOptions, got {type(value).__name__}")
    return value


def _check_mean_or_std(value: Any, name: str) -> Number:
    """A finite number, or a tuple of them, else ``ValueError``."""
    flat = [value] if isinstance(value, numbers.Real) else list(value) if isinstance(value, (list, tuple)) else None
    if not flat or not all(isinstance(v, numbers.Real) and math.isfinite(v) for v in flat):
        raise ValueError(f"{name} must be a number or a sequence of numbers, got {value!r}")
    return value if isinstance(value, numbers.Real) else tuple(value)


_DEFAULTS = HookOptions()
