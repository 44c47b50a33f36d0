"""Benchmark runner: ours against NumPy, Apple's MLX and PyTorch, side by side in one run.

    python -m benchmarks [--repeat N] [--warmup N] [--filter TEXT] [--device cpu|gpu]
                         [--peers numpy,mlx,torch] [--install-peers [--wheels DIR]]
                         [--save FILE]

Ours and NumPy run in this interpreter; MLX and PyTorch run in their own virtual environments
under .bench-venvs/ (made by --install-peers; PyTorch may also come from this interpreter's
environment when it imports there), through benchmarks/worker.py, so the real MLX never shares
a process with ours. Each timing is the median of --repeat runs after --warmup; each run ends in
evaluation. A peer that cannot run prints "absent: <reason>"."""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".bench-venvs"
PEER_PACKAGES = {"mlx": ["numpy", "mlx[cpu]"], "torch": ["numpy", "torch"]}
ALL_PEERS = ["numpy", "mlx", "torch"]


def machine(device):
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    desc = f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    if device == "gpu":
        try:
            gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20).stdout.strip()
            desc += f"; GPU {gpu.splitlines()[0] if gpu else 'unknown'}"
        except (OSError, subprocess.SubprocessError):
            desc += "; GPU unknown"
    return desc


def install_peers(names, wheels=None):
    for name in names:
        if name not in PEER_PACKAGES:
            continue
        venv = VENVS / name
        py = venv / "bin" / "python"
        if not py.exists():
            print(f"benchmarks: creating {venv}", flush=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        print(f"benchmarks: installing {' '.join(PEER_PACKAGES[name])} into {venv}", flush=True)
        offline = ["--no-index", "--find-links", str(wheels)] if wheels else []
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        *offline, *PEER_PACKAGES[name]], check=True)


def clean_env(extra=None):
    """An environment that cannot see our build (no PYTHONPATH) plus extra settings."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(extra or {})
    return env


def peer_python(name):
    """(interpreter, None) for a peer, or (None, reason)."""
    py = VENVS / name / "bin" / "python"
    if py.exists():
        return str(py), None
    if name == "torch":
        probe = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True,
                               env=clean_env(), cwd=str(ROOT))
        if probe.returncode == 0:
            return sys.executable, None
        return None, "absent: torch not installed (python -m benchmarks --install-peers)"
    return None, f"absent: no {VENVS.name}/{name} (python -m benchmarks --install-peers)"


def run_peer(name, args):
    """The worker's results for a peer in its own process, or a reason it is absent."""
    if name == "mlx" and args.device == "gpu":
        return None, "absent: MLX's CUDA build is not installable here"
    py, reason = peer_python(name)
    if py is None:
        return None, reason
    extra = {"BENCH_TORCH_DEVICE": "cuda" if args.device == "gpu" else "cpu"}
    cmd = [py, "-m", "benchmarks.worker", name, "--repeat", str(args.repeat), "--warmup",
           str(args.warmup), "--filter", args.filter]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT), env=clean_env(extra))
    try:
        return json.loads(r.stdout.strip().splitlines()[-1]), None
    except (IndexError, json.JSONDecodeError):
        err = (r.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"absent: {name} worker failed ({err[:60]})"


def fmt(seconds, case):
    value = seconds / case.per * (1e6 if case.unit == "us" else 1e3)
    return f"{value:.3f} {case.unit}"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=10, help="timed runs per case (median taken)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs before timing")
    p.add_argument("--filter", default="", help="only cases whose name contains this text")
    p.add_argument("--device", choices=["cpu", "gpu"], default=None, help="device of every framework")
    p.add_argument("--peers", default=",".join(ALL_PEERS), help="comma-separated peers to run")
    p.add_argument("--install-peers", action="store_true",
                   help=f"create {VENVS.name}/mlx (mlx[cpu]) and {VENVS.name}/torch first")
    p.add_argument("--wheels", type=Path, default=None,
                   help="install the peers from the wheel files in this folder (no network)")
    p.add_argument("--save", type=Path, default=None, help="also write the table (markdown) here")
    args = p.parse_args(argv)
    peers = [x for x in args.peers.split(",") if x]
    bad = [x for x in peers if x not in ALL_PEERS]
    if bad:
        p.error(f"unknown peers {bad}; choose from {ALL_PEERS}")
    if args.install_peers:
        install_peers(peers, args.wheels)

    from benchmarks.cases import CASES
    from benchmarks.worker import run_cases
    cases = [c for c in CASES if args.filter in c.name]
    results = {}
    if args.device == "gpu":
        os.environ["BENCH_TORCH_DEVICE"] = "cuda"
    try:
        results["ours"] = run_cases("ours", cases, args.warmup, args.repeat, args.device)
    except ValueError as e:  # no GPU here
        print(f"benchmarks: {e}", file=sys.stderr)
        return 2
    absent = {}
    for name in peers:
        if name == "numpy":
            if args.device == "gpu":
                absent[name] = "absent: CPU only"
                continue
            try:
                results[name] = run_cases("numpy", cases, args.warmup, args.repeat)
            except ImportError as e:
                absent[name] = f"absent: numpy not importable ({e})"
        else:
            res, reason = run_peer(name, args)
            if res is None:
                absent[name] = reason
            else:
                results[name] = res

    lines = table(cases, results, absent, peers)
    head = (f"{datetime.date.today()}; {machine(args.device or 'cpu')}; device "
            f"{args.device or 'default'}; median of {args.repeat} runs; "
            + "; ".join(v.get("_version", "") for v in results.values()))
    print(head)
    print("\n".join(lines))
    if args.save:
        cmd = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
        args.save.write_text(f"# {head}\n\n`{cmd}`\n\n" + "\n".join(
            ["| " + " | ".join(cells) + " |" for cells in rows_md(cases, results, absent, peers)])
            + "\n")
    return 0


def cell(case, res, name):
    if name not in res:
        return None, None
    r = res[name].get(case.name)
    if r is None:
        return "-", None
    if "error" in r:
        return f"failed: {r['error']}", None
    return fmt(r["seconds"], case), r["seconds"]


def rows_md(cases, results, absent, peers):
    head = ["case", "shape/dtype", "ours"]
    for name in peers:
        head += [name, f"{name}/ours"]
    rows = [head, ["---"] * len(head)]
    for case in cases:
        ours_txt, ours_t = cell(case, results, "ours")
        row = [case.name, case.shape, ours_txt or "-"]
        for name in peers:
            if name in absent:
                row += [absent[name], ""]
                continue
            txt, t = cell(case, results, name)
            ratio = f"{t / ours_t:.2f}" if t and ours_t else ""
            row += [txt or "-", ratio]
        rows.append(row)
    return rows


def table(cases, results, absent, peers):
    rows = rows_md(cases, results, absent, peers)
    rows.pop(1)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    widths = [min(w, 34) for w in widths]
    out = []
    for k, r in enumerate(rows):
        out.append("  ".join(c[:widths[i]].ljust(widths[i]) if i < 2 else c[:widths[i]].rjust(widths[i])
                             for i, c in enumerate(r)))
        if k == 0:
            out.append("-" * len(out[0]))
    return out


if __name__ == "__main__":
    sys.exit(main())
