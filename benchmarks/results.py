"""The measured table, in markdown (``benchmarks/RESULTS.md``), for the README's performance
section."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["render", "write_results"]


def _fmt_time(result: dict, side: str) -> str:
    for unit in ("ms", "s"):
        if f"{side}_{unit}" in result:
            return f"{result[f'{side}_{unit}']:g} {unit}"
    per_evaluation = {"suite": "ais_us_per_evaluation", "baseline": "is_us_per_evaluation"}
    if per_evaluation[side] in result:  # AIS against IS: the cost of one model evaluation
        return f"{result[per_evaluation[side]]:g} µs per evaluation"
    return "–"


def _ratio_rows(results: list[dict]) -> list[str]:
    rows = [
        "| benchmark | suite | hand-written | ratio | target | passed |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        if r["name"] == "throughput":
            continue
        if "error" in r or "skipped" in r:
            rows.append(f"| {r['name']} | – | – | – | – | {r.get('error') or r.get('skipped')} |")
            continue
        rows.append(
            f"| {r['name']} | {_fmt_time(r, 'suite')} | {_fmt_time(r, 'baseline')} | "
            f"{r['ratio']} | {r['target']} | {'yes' if r['passed'] else 'NO'} |"
        )
        if r["name"] == "svi_step" and "reference" in r:
            ref = r["reference"]
            rows.append(
                f"| svi_step reference: Pyro `SVI` + `Trace_ELBO` | {ref['pyro_SVI_ms']:g} ms | "
                f"{r['baseline_ms']:g} ms | {ref['pyro_SVI_ratio']} | (reference) | |"
            )
        if r["name"] == "cached_sampling" and "models" in r:
            for model, m in r["models"].items():
                rows.append(
                    f"| cached_sampling: {model} | {m['cached_s']:g} s | "
                    f"{m['naive_s']:g} s (naive) | "
                    f"{m['speedup']} | >= 10, identical: {'yes' if m['identical'] else 'NO'} | "
                    f"{'yes' if m['speedup'] >= 10 and m['identical'] else 'NO'} |"
                )
        if "memory_ratio" in r:
            peaks = r["memory_peak_mb"]
            # which peaks the ratio compares: the estimator's K, AIS's T (same chains per pass)
            if r["name"] == "estimator":
                big, small = "suite K=5000", "suite K=500"
            else:  # AIS: the largest peak over its settings against the smallest
                big, small = max(peaks, key=peaks.get), min(peaks, key=peaks.get)
            rows.append(
                f"| {r['name']} peak memory, {big.removeprefix('suite ')} vs "
                f"{small.removeprefix('suite ')} | {peaks.get(big)} MB | {peaks.get(small)} MB | "
                f"{r['memory_ratio']} | {r['memory_target']} | "
                f"{'yes' if r['memory_ratio'] <= 1.5 else 'NO'} |"
            )
    return rows


def _throughput_rows(results: list[dict]) -> list[str]:
    found = [r for r in results if r["name"] == "throughput" and "models" in r]
    if not found:
        return []
    rows = [
        "| model | images/s (wall) | images/CPU-s | sequential steps per image | parameters |",
        "|---|---|---|---|---|",
    ]
    for name, m in found[0]["models"].items():
        if "error" in m:
            rows.append(f"| {name} | {m['error']} | | | |")
        else:
            rows.append(
                f"| {name} | {m['images_per_second']} | {m['images_per_cpu_second']} | "
                f"{m['sequential_steps_per_image'] or 'none'} | {m['parameters']:,} |"
            )
    return ["", f"Training throughput ({found[0]['setup']}):", "", *rows]


def render(results: list[dict], host: dict, args, total_seconds: float) -> str:
    clock = "process CPU time" if args.clock == "cpu" else "wall clock"
    threads = host["torch_threads"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `python -m benchmarks{' --quick' if args.quick else ''}` "
        f"in {total_seconds:.0f} s on {host['cpu']} ({host['cores']} cores), "
        f"{threads} torch thread{'s' if threads != 1 else ''}, "
        f"Python {host['python']}, torch {host['torch']}, Pyro {host['pyro']}, CUDA "
        f"{'available' if host['cuda'] else 'not available'}; 1-minute load average at the start "
        f"{host['load_average_1min']} (a shared machine). Ratios are suite / hand-written on "
        f"{clock}, medians over interleaved rounds after warm-up (for sampling, naive / cached).",
        "",
        *_ratio_rows(results),
        *_throughput_rows(results),
        "",
        "How each side is measured: `svi_step` times `Trainer.fit` epochs against a hand-written "
        "loop over the same networks, loss, Adam and batches; `estimator` times "
        "`evaluation.log_likelihood.estimate` against a hand-written IWAE loop drawing the same "
        "particles per pass, and its memory is the peak resident size above a warm baseline in a "
        "fresh process per K (glibc's mmap threshold pinned, so the peak is the live tensors'); "
        "`pixelcnn_log_prob` times the distribution's `log_prob` against the raw network plus "
        "cross-entropy; `cached_sampling` times `sample(16, cached=True/False)` under one seed. "
        "The docstrings in `benchmarks/` give the details.",
        "",
        "<details><summary>Raw JSON lines</summary>",
        "",
        "```",
        *(json.dumps(r) for r in results),
        "```",
        "</details>",
        "",
    ]
    return "\n".join(lines)


def write_results(path: Path, results: list[dict], host: dict, args, total_seconds: float) -> None:
    path.write_text(render(results, host, args, total_seconds))
