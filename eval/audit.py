"""A hand audit of a run: a seeded sample of answers to read, and the agreement of the
readers' verdicts with the automatic ones.

``assistant eval audit DIR [--n 30] [--seed 0]`` writes ``DIR/audit.md``: one section per
sampled answer (question, gold answer with its aliases and stale answer, the answer, its
citations, the automatic verdict) with a ``Verdict:`` and a ``Reason:`` line for a person
to fill in after reading the answer against the cited documents. Verdicts are
``correct``, ``wrong``, ``abstained-ok`` (declined an unanswerable question),
``abstained-missed`` (declined an answerable one) or ``partial``. ``--check`` reads a filled
``audit.md`` back and prints how often the readers agree with the automatic verdict.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from eval.results import RESULTS, EvalError, load_results, rescore_answer

AUDIT = "audit.md"
VERDICTS = ("correct", "wrong", "abstained-ok", "abstained-missed", "partial")
_SECTION = re.compile(r"^### (\d+)\. (\S+) / (\S+)$", re.M)
_VERDICT = re.compile(r"^- Verdict: *(\S*)", re.M)
_AUTO = re.compile(r"^- Automatic verdict: (\S+)", re.M)


def auto_verdict(record: Mapping) -> str:
    """The automatic verdict of one stored record, in the audit's words."""
    m = record["metrics"]
    answerable = record["gold"].get("answer") is not None
    if not m.get("answered"):
        return "abstained-missed" if answerable else "abstained-ok"
    return "correct" if m.get("correct") == 1.0 else "wrong"


def sample(records: Sequence[Mapping], n: int, seed: int) -> list[Mapping]:
    """``n`` records drawn without replacement with ``seed`` (all when fewer), in a stable
    order (by setup, then question id)."""
    picked = random.Random(seed).sample(list(records), min(n, len(records)))
    return sorted(picked, key=lambda r: (r["setup"], r["question_id"]))


def render(records: Sequence[Mapping], run_dir: Path, seed: int) -> str:
    """The audit form for ``records`` as Markdown."""
    out = [f"# Hand audit: {run_dir.name}", "",
           f"{len(records)} answers drawn with seed {seed} from `{RESULTS}`. Read each answer "
           "against its cited documents and fill in the verdict ("
           + ", ".join(f"`{v}`" for v in VERDICTS) + ") and the reason.", ""]
    for i, r in enumerate(records, 1):
        gold, answer = r["gold"], r.get("answer") or {}
        golden = gold.get("answer") if gold.get("answer") is not None else "(unanswerable)"
        extra = []
        if gold.get("aliases"):
            extra.append("aliases: " + "; ".join(gold["aliases"]))
        if gold.get("stale_answer"):
            extra.append(f"stale: {gold['stale_answer']}")
        cites = [f"[{c.get('n')}] {c.get('source')}"
                 + (f" p.{c['page_index']}" if c.get("page_index") else "")
                 + (f" / {c['heading']}" if c.get("heading") else "")
                 for c in answer.get("citations", ())]
        text = " ".join((answer.get("answer") or "").split()) or "(no answer)"
        if answer.get("abstained"):
            text = f"(abstained) {text}"
        out += [f"### {i}. {r['setup']} / {r['question_id']}", "",
                f"- Question: {r['question']}",
                f"- Gold: {golden}" + (f" ({', '.join(extra)})" if extra else ""),
                f"- Answer: {text}" if not r.get("error") else f"- Error: {r['error']}",
                f"- Citations: {'; '.join(cites) if cites else 'none'}",
                f"- Automatic verdict: {auto_verdict(r)}",
                "- Verdict: ",
                "- Reason: ", ""]
    return "\n".join(out)


def write_audit(run_dir: Path | str, n: int = 30, seed: int = 0) -> Path:
    """Write ``run_dir/audit.md`` for a seeded sample of ``n`` stored answers. Refuses to
    overwrite a form that already holds verdicts. Raises ``EvalError``."""
    run_dir = Path(run_dir)
    records = list(load_results(run_dir / RESULTS).values())
    if not records:
        raise EvalError(f"{run_dir}: no answers in {RESULTS}")
    path = run_dir / AUDIT
    if path.is_file() and any(v for v in _VERDICT.findall(path.read_text())):
        raise EvalError(f"{path} already holds verdicts; move it away to draw a new sample")
    for record in records:
        rescore_answer(record)
    path.write_text(render(sample(records, n, seed), run_dir, seed) + "\n")
    return path


def check_audit(path: Path | str) -> dict:
    """Read a filled audit form: counts of hand verdicts, and agreement with the automatic
    verdict (``partial`` counts as a disagreement). Raises ``EvalError`` for an empty or
    unknown verdict, naming the entry."""
    text = Path(path).read_text()
    heads = list(_SECTION.finditer(text))
    hand: list[str] = []
    agree = 0
    for i, head in enumerate(heads):
        body = text[head.end(): heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        verdict = (_VERDICT.search(body) or [None, ""])[1]
        auto = (_AUTO.search(body) or [None, ""])[1]
        if verdict not in VERDICTS:
            raise EvalError(f"{path} entry {head.group(1)} ({head.group(2)} / "
                            f"{head.group(3)}): verdict {verdict!r} is not one of "
                            f"{', '.join(VERDICTS)}")
        hand.append(verdict)
        agree += verdict == auto
    if not hand:
        raise EvalError(f"{path} holds no audit entries")
    return {"n": len(hand), "verdicts": dict(Counter(hand)), "agree": agree,
            "agreement": agree / len(hand)}
