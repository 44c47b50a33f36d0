"""The API-table x dtype harness: every function of the spine and sections A-D of
tables/api.def whose required parameters are all arrays is called on small arrays of each of
the 14 dtypes, and
the outcome (the result's dtype, or the exception type) is recorded. tests/python/
test_api_dtypes.py compares that matrix with the one Apple's MLX gives (data/api_dtypes_mlx.json,
made by running this file with MLX installed: `python tests/python/api_dtype_matrix.py OUT`)
and prints what is missing (MLX accepts, we refuse), extra (we accept, MLX refuses) or typed
differently."""
import json
import re
import sys
from pathlib import Path

API_DEF = Path(__file__).resolve().parents[2] / "tables" / "api.def"
SECTIONS = (None, "A", "B", "C", "D")  # None: the spine rows before section A
DTYPES = ["bool_", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
          "float16", "float32", "float64", "bfloat16", "complex64"]
# array-only functions whose call would not say anything about dtypes
SKIP = {"eval", "async_eval", "stop_gradient", "contiguous", "array_equal", "copy"}


def rows():
    """(section, name, number of leading required array parameters) of the api.def rows."""
    text = API_DEF.read_text().splitlines()
    joined, section = [], None
    for line in text:
        m = re.match(r"# ==== section (\w+):", line)
        if m:
            section = m.group(1)
            continue
        if line.startswith("#") or not line.strip():
            continue
        if line[0].isspace() and joined:
            joined[-1] = (joined[-1][0], joined[-1][1] + " " + line.strip())
        else:
            joined.append((section, line.strip()))
    out = []
    for sec, row in joined:
        if sec not in SECTIONS or row.startswith(("handwritten", "-")):
            continue
        fields = row.split(" | ")
        if len(fields) < 2 or "." in fields[0]:
            continue
        name, sig = fields[0].strip(), fields[1].strip()
        m = re.match(r"\((.*)\)", sig)
        if not m or name in SKIP:
            continue
        n_arr, ok = 0, True
        for p in [p.strip() for p in m.group(1).split(",")]:
            if p in ("/", "*") or not p or p.startswith("*"):
                if p == "*":
                    break
                continue
            if "=" in p:
                break
            conv = p.split(":", 1)[1].strip() if ":" in p else ""
            if conv in ("array", "weak"):
                n_arr += 1
            else:
                ok = False
                break
        if ok and n_arr > 0:
            out.append((sec, name, n_arr))
    return out


def outcome(mx, name, n_arr, dt):
    import numpy as np
    # no zeros: MLX's integer division by zero traps (SIGFPE) instead of raising
    base = [np.array([[1, 2, 1], [2, 1, 3]]), np.array([[2, 1, 1], [1, 3, 2]]),
            np.array([[1, 1, 2], [3, 2, 1]])]
    args = [mx.array(b).astype(getattr(mx, dt)) for b in base[:n_arr]]
    try:
        r = getattr(mx, name)(*args)
        if isinstance(r, (list, tuple)):
            r = r[0]
        mx.eval(r)
        return str(r.dtype).replace("mlx.core.", "")
    except Exception as e:  # noqa: BLE001 -- the exception type is the datum
        return type(e).__name__


def matrix(mx):
    return {name: {dt: outcome(mx, name, n, dt) for dt in DTYPES} for _, name, n in rows()
            if hasattr(mx, name)}


if __name__ == "__main__":
    import mlx.core as mx
    Path(sys.argv[1]).write_text(json.dumps(matrix(mx), indent=0, sort_keys=True) + "\n")
