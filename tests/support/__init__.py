"""Helpers shared across the test folders (and used by ``benchmarks/`` and
``tools/``): :mod:`.events` (a free port, route URLs, reading values back from
event files), :mod:`.tensorboard_server` (the real ``tensorboard`` command as
a subprocess), :mod:`.hooks_helpers` (tiny training loops with the hooks)."""
