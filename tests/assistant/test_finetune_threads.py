"""``assistant finetune --threads``: how many CPU threads training uses."""

from __future__ import annotations

import pytest
import torch

from core.errors import ConfigError


def test_threads_sets_torchs_thread_count_and_rejects_nonsense():
    from assistant.cli.finetune import set_threads
    from assistant.cli.main import build_parser

    args = build_parser().parse_args(["finetune", "--data", "qa.jsonl", "--mode",
                                      "closed-book", "--name", "a", "--threads", "1"])
    assert args.threads == 1
    before = torch.get_num_threads()
    try:
        set_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    for bad in (0, -2, True):
        with pytest.raises(ConfigError, match="--threads must be a whole number >= 1"):
            set_threads(bad)


def test_a_bad_thread_count_stops_before_any_work(tmp_path, capsys):
    from assistant.cli.main import main

    data = tmp_path / "qa.jsonl"  # exists (a missing --data is its own usage error), unread
    data.write_text("not read: the thread count is checked first\n", encoding="utf-8")
    code = main(["finetune", "--data", str(data), "--mode",
                 "closed-book", "--name", "a", "--threads", "0"])
    assert code != 0
    assert "--threads must be a whole number >= 1, got 0" in capsys.readouterr().err
