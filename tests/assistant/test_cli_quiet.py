"""``-q`` (or no TTY) silences third-party progress bars: transformers' and the hub's."""

from __future__ import annotations

from huggingface_hub.utils import (
    are_progress_bars_disabled,
    disable_progress_bars,
    enable_progress_bars,
)
from transformers.utils import logging as hf_logging

from assistant.cli.main import main


def test_quiet_turns_off_the_libraries_bars(tmp_path):
    enable_progress_bars()
    hf_logging.enable_progress_bar()
    try:
        main(["-q", "index", "info", "--index", str(tmp_path / "no-index")])  # exit 2: no matter
        assert are_progress_bars_disabled()
        assert not hf_logging.is_progress_bar_enabled()
    finally:
        disable_progress_bars()
