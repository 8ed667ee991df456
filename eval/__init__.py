"""Setups in, report out: retrieval benchmarks and (later) the answer-quality harness.

Public API (import from the submodules):
- ``eval.metrics``: ``ndcg_at_k``, ``recall_at_k``, ``precision_at_k``, ``mrr``,
  ``exact_match``, ``token_f1``, ``bootstrap_ci``, ``paired_bootstrap_test``,
  ``paired_permutation_test``
- ``eval.beir``: ``load_beir``, ``BeirDataset``, ``BeirDataError``
- ``eval.retrieval``: ``evaluate_beir``, ``format_table``, ``PUBLISHED``, ``main``
- ``eval.config``: ``load_config``, ``EvalConfig``, ``EvalConfigError``
- ``eval.harness``: ``run_eval`` (``assistant eval run --config FILE --out DIR``)
- ``eval.report``: ``write_reports``
"""

__all__ = [
    "ndcg_at_k", "recall_at_k", "precision_at_k", "mrr", "exact_match", "token_f1",
    "bootstrap_ci", "paired_bootstrap_test", "paired_permutation_test",
    "load_beir", "BeirDataset", "BeirDataError", "evaluate_beir", "format_table", "PUBLISHED",
    "load_config", "EvalConfig", "EvalConfigError", "run_eval", "write_reports",
]

_HOMES = {
    **dict.fromkeys(
        ["ndcg_at_k", "recall_at_k", "precision_at_k", "mrr", "exact_match", "token_f1",
         "bootstrap_ci", "paired_bootstrap_test", "paired_permutation_test"], "metrics"),
    **dict.fromkeys(["load_beir", "BeirDataset", "BeirDataError"], "beir"),
    **dict.fromkeys(["evaluate_beir", "format_table", "PUBLISHED"], "retrieval"),
    **dict.fromkeys(["load_config", "EvalConfig", "EvalConfigError"], "config"),
    "run_eval": "harness",
    "write_reports": "report",
}


def __getattr__(name: str):
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"eval.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'eval' has no attribute {name!r}")
