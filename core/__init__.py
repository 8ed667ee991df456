"""The shared base every other package builds on; it imports none of them.

- ``core.errors``: the exception hierarchy (``AssistantError`` and its children).
- ``core.settings``: ``Settings`` / ``get_settings()``, the ``ASSISTANT_*`` environment and
  the paths under ``$ASSISTANT_HOME``.
- ``core.artifacts``: the versioned-artifact store (atomic publish, lock, fsync, prune) that
  index versions, the adapter registry and tuned embedders share.
- ``core.refs``: ``name@vN`` references and the rule for telling them from paths.
- ``core.devices``: ``resolve_device("auto" | "cpu" | "cuda[:N]")``.
- ``core.prompt_format``: the grounded prompt, shared by fine-tuning and answering.
- ``core.progress``: how long work shows progress (a bar, plain log lines, or nothing).

Nothing here loads a model or touches the disk at import time.
"""

__all__ = ["artifacts", "devices", "errors", "progress", "prompt_format", "refs", "settings"]
