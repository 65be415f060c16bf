"""The viewing side: the TensorBoard plugin (entry point
``tb_fmnist_plugin.server.plugin:ConfusionLoader``).

A request goes one way through these modules: :mod:`.plugin` (routes) parses
it with :mod:`.queries`, asks :mod:`.views` or :mod:`.diagnostics_views` for
plain data, and answers with :mod:`.responses` / :mod:`.json_encoding`. The
views read through :mod:`.reader` / :mod:`.diagnostics_reader` (TensorBoard's
data provider; :mod:`.event_blobs` for names the Rust data server cannot
carry), which build :mod:`.series` and keep :mod:`.caches`.

Imports only the format and :mod:`tb_fmnist_plugin.metrics` of the package;
never torch or the hooks.
"""
