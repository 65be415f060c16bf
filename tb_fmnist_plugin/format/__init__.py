"""The on-disk format, shared by both halves: the plugin name and versioned
metadata of every value kind with their encodings and validity checks
(:mod:`.metadata`, :mod:`.diagnostics_metadata`, the thumbnail index both
kinds with thumbnails share in :mod:`.thumbnail_index`), their writers
(:mod:`.writers`, :mod:`.diagnostics_writers`; re-exported as the public
:mod:`tb_fmnist_plugin.summary`; their one argument order and the old ones
still accepted in :mod:`.call_order`), writing a summary as one event
through a ``SummaryWriter`` (:mod:`.events`), thumbnail sprites under a byte
budget (:mod:`.sprites`) and argument checks (:mod:`.checks`). Specified in
``docs/format.md``.

Imports nothing else of the package: the training side and the server side
both import it, never the other way round.
"""
