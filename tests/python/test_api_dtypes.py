"""The API table x dtypes against MLX (api_dtype_matrix.py): for every function of the
spine and sections A-D of tables/api.def that takes only arrays, and each of the 14 dtypes,
the result dtype or the exception type must be MLX's (golden matrix data/api_dtypes_mlx.json,
made with Apple MLX 0.32.4: `python tests/python/api_dtype_matrix.py OUT`). The report printed
lists what is missing (MLX accepts, we refuse), extra (we accept, MLX refuses) and typed
differently."""
import json
from pathlib import Path

import mlx.core as mx

import api_dtype_matrix

GOLDEN = Path(__file__).parent / "data" / "api_dtypes_mlx.json"
DTYPE_NAMES = ("bool", "uint", "int", "float", "bfloat", "complex")


def _is_dtype(outcome):
    return outcome.startswith(DTYPE_NAMES)


def test_api_table_dtypes_match_mlx():
    ref = json.loads(GOLDEN.read_text())
    prev = mx.default_device()
    mx.set_default_device(mx.cpu)  # the golden matrix is MLX's CPU build
    try:
        ours = api_dtype_matrix.matrix(mx)
    finally:
        mx.set_default_device(prev)
    missing, extra, differ = [], [], []
    for name, row in sorted(ref.items()):
        if name not in ours:
            missing.append(f"{name}: not in mlx.core")
            continue
        for dt, want in row.items():
            got = ours[name][dt]
            if got == want:
                continue
            line = f"{name}({dt}): ours {got}, MLX {want}"
            if _is_dtype(want) and not _is_dtype(got):
                missing.append(line)
            elif _is_dtype(got) and not _is_dtype(want):
                extra.append(line)
            else:
                differ.append(line)
    print(f"\n{len(ref)} functions x {len(api_dtype_matrix.DTYPES)} dtypes compared with MLX")
    for title, items in (("missing", missing), ("extra", extra), ("typed differently", differ)):
        print(f"{title}: {len(items)}")
        for it in items:
            print("  " + it)
    assert not missing and not extra and not differ
    assert len(ref) >= 120  # the harness really covers the table
