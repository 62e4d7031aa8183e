"""A run's history: every kept checkpoint scored, with the best one reported apart from the final one.

Papers often report their best epoch; a user comparing with them needs both numbers, and
needs to see whether the best is a lucky fluctuation or a trend. The checkpoints scored are
those the run folder keeps (``train --keep-checkpoints``, 3 by default; 0 keeps them all).
"""

import tensorflow as tf

from ..metrics import HIGHER_IS_BETTER
from ..training.checkpoints import try_restore
from .evaluation import checkpoint_step, features_line, format_table


def best_checkpoints(entries):
    """``{direction: {metric: {"step", "checkpoint", "value"}}}``: each metric's best entry
    (the earliest one on a tie) among ``entries`` (``[{"step", "checkpoint", "results"}]``)."""
    best = {}
    for entry in entries:
        for direction, values in entry["results"].items():
            for metric, value in values.items():
                if metric not in HIGHER_IS_BETTER:
                    continue
                current = best.setdefault(direction, {}).get(metric)
                better = current is None or (value > current["value"] if HIGHER_IS_BETTER[metric]
                                             else value < current["value"])
                if better:
                    best[direction][metric] = {"step": entry["step"], "checkpoint": entry["checkpoint"], "value": value}
    return best


def evaluate_checkpoints(evaluator, generators, paths, log=print):
    """Score ``generators`` restored from each of ``paths`` (oldest first) with ``evaluator``.

    Returns ``{"checkpoints": [...], "final": entry, "best": ..., "skipped": [...]}``; a
    checkpoint that cannot be restored is skipped with its reason (the others still count),
    and ``ValueError`` is raised when none can.
    """
    entries, skipped = [], []
    for path in paths:
        reason = try_restore(tf.train.Checkpoint(**generators), path, partial=True)
        if reason:
            log(f"checkpoint {path} could not be loaded ({reason}); skipped")
            skipped.append({"checkpoint": path, "reason": reason})
            continue
        entries.append({"step": checkpoint_step(path), "checkpoint": path, "results": evaluator(generators)})
        log(f"scored step {entries[-1]['step']}")
    if not entries:
        raise ValueError(f"none of the run's {len(paths)} checkpoints could be loaded")
    return {"checkpoints": entries, "final": entries[-1], "best": best_checkpoints(entries), "skipped": skipped}


def format_history(report):
    """A table per checkpoint, then for each metric the best step next to the final one."""
    lines = [f"{report['family']} on {report['dataset']} ({report['split']}): {len(report['checkpoints'])} checkpoints"]
    for entry in report["checkpoints"]:
        lines.append(format_table(report, entry["results"], title=f"step {entry['step']}:"))
    final = report["final"]
    for direction, metrics in report["best"].items():
        for metric, best in metrics.items():
            last = final["results"][direction][metric]
            lines.append(f"{direction} {metric}: best {best['value']:.4f} at step {best['step']}, "
                         f"final {last:.4f} at step {final['step']}")
    if "inception" in report:
        lines.append(features_line(report["inception"]))
    return "\n".join(lines)
