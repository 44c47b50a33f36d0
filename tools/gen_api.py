"""gen_api.py: expands tables/api.def (DESIGN section 2) into, in OUTDIR:

  py_bindings_gen.c/.h  METH_FASTCALL|METH_KEYWORDS wrappers for mlx.core, mlx.core.random and
                        the array methods, calling the converters of python/src/convert.h,
                        convert_ext.h and convert_conv.h
  mlx/c/ops.h, mlx/c/random.h, capi_ops_gen.c
                        the mlx-c wrappers (int return, out-parameters, stream last)
  core.pyi              stubs with signatures and docstrings
  api_coverage.md       every name of spec/python-api.md sections 2-23 and of mlx-c's ops.h /
                        random.h, marked implemented or not

Usage: gen_api.py tables/api.def OUTDIR [SPEC_DIR]. SPEC_DIR defaults to $MLX_SPEC_DIR or
<repo>/../shared/spec. Standard library only; output is deterministic and a file is written
only when its content changes. The row format is documented at the top of api.def.
"""
import ast
import os
import re
import sys
from pathlib import Path

# ----------------------------------------------------------------------------------------
# table parsing
# ----------------------------------------------------------------------------------------

PY_CONVS = {"array", "array?", "weak", "weak?", "key", "arrays", "axes", "shape", "axis", "int",
            "int?", "uint64", "bool", "float", "float?", "dtype", "dtype?", "stream",
            "str", "ints", "pairs", "tdaxes", "convpad"}
C_KINDS = {"array", "array?", "key", "ints", "shape", "int", "bool", "float", "float?", "double",
           "uint64", "dtype", "vector", "str", "i64s", "size", "fftnorm", "int?", "dtype?"}
# Python results: array; list(p) (one array when p was one array), list1(p) (one array when p
# holds exactly one), tuple(p): as many arrays as p; list / tuple: as many as the call makes.
SEQ_RESULTS = {"list", "list1", "tuple"}
DTYPES = ["bool_", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
          "float16", "float32", "float64", "bfloat16", "complex64"]
MODULES = ["core", "random", "linalg", "fft", "fast", "distributed"]  # generated method tables
C_HEADERS = ["ops", "random", "linalg", "fft", "fast", "distributed"]  # mlx/c/<name>.h
INLINE = 8                    # inline storage for axes/shape/array lists


class DefError(Exception):
    pass


class Param:
    def __init__(self, name, conv, default, kind):
        self.name, self.conv, self.default, self.kind = name, conv, default, kind

    @property
    def required(self):
        return self.default is None and self.kind != "varargs"


class Sig:
    def __init__(self, params, result):
        self.params, self.result = params, result  # ("array",), (kind, pname) or (kind, None)

    def named(self):
        return [p for p in self.params if p.kind != "varargs"]

    def varargs(self):
        v = [p for p in self.params if p.kind == "varargs"]
        return v[0] if v else None


def split_top(text, sep=","):
    """Splits at sep outside brackets and quotes."""
    out, depth, cur, quote = [], 0, [], None
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


def parse_sig(text, where, lookup=None):
    """Parses '(p: conv = d, /, *, q) -> res'. lookup(name) gives the converter of an
    unannotated parameter (method signatures)."""
    text = text.strip()
    close, depth = -1, 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0:
            close = i
            break
    rest = text[close + 1:].strip() if close > 0 else ""
    if not text.startswith("(") or close < 0 or (rest and not rest.startswith("->")):
        raise DefError(f"{where}: bad signature {text!r}")
    body, res = text[1:close], (rest[2:].strip() if rest else "array")
    items = split_top(body)
    params, kind, seen_slash = [], "pos", False
    for it in items:
        if it == "/":
            if seen_slash or kind != "pos":
                raise DefError(f"{where}: misplaced '/'")
            for p in params:
                p.kind = "posonly"
            seen_slash = True
            continue
        if it == "*":
            kind = "kwonly"
            continue
        star = it.startswith("*")
        if star:
            it = it[1:]
        pm = re.fullmatch(r"([A-Za-z_]\w*)\s*(?::\s*([\w?]+))?\s*(?:=\s*(.+))?", it, re.S)
        if not pm:
            raise DefError(f"{where}: bad parameter {it!r}")
        name, conv, default = pm.group(1), pm.group(2), pm.group(3)
        if conv is None:
            if lookup is None:
                raise DefError(f"{where}: parameter {name} needs a converter")
            conv = lookup(name)
        if conv not in PY_CONVS:
            raise DefError(f"{where}: unknown converter {conv!r}")
        if star:
            if conv not in ("shape", "axes", "arrays"):
                raise DefError(f"{where}: *{name} must be a shape, axes or arrays parameter")
            params.append(Param(name, conv, None, "varargs"))
            kind = "kwonly"
            continue
        if kind == "pos" and not default and any(p.default for p in params if p.kind == "pos"):
            raise DefError(f"{where}: required parameter {name} after a defaulted one")
        params.append(Param(name, conv, default.strip() if default else None, kind))
    if res == "array":
        result = ("array",)
    elif res in ("list", "tuple"):  # as many arrays as the call makes (it mallocs OUT)
        result = (res, None)
    else:
        rm = re.fullmatch(r"(\w+)\((\w+)\)", res)
        if not rm or rm.group(1) not in SEQ_RESULTS:
            raise DefError(f"{where}: bad result {res!r}")
        lp = [p for p in params if p.name == rm.group(2)]
        if not lp or lp[0].conv != "arrays":
            raise DefError(f"{where}: list result needs an arrays parameter {rm.group(2)}")
        result = (rm.group(1), rm.group(2))
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise DefError(f"{where}: duplicate parameter names")
    if len([p for p in params if p.kind != "varargs"]) > 32:
        raise DefError(f"{where}: too many parameters")
    return Sig(params, result)


class CVariant:
    def __init__(self, name, params, result, call, manual, nostream):
        self.name, self.params, self.result = name, params, result
        self.call, self.manual, self.nostream = call, manual, nostream


class Row:
    pass


def parse_cvariant(text, row, where):
    text = text.strip()
    flags = []
    while True:
        m = re.match(r"(manual|nostream)\s+", text)
        if not m:
            break
        flags.append(m.group(1))
        text = text[m.end():]
    call = None
    if "=" in text:
        head, call = text.split("=", 1)
        head, call = head.strip(), call.strip()
    else:
        head = text
    m = re.fullmatch(r"(mlx_\w+)\s*(?:\((.*?)\))?\s*(?:->\s*(.+))?", head, re.S)
    if not m:
        raise DefError(f"{where}: bad mlx-c variant {text!r}")
    name, plist, res = m.group(1), m.group(2), (m.group(3) or "array").strip()
    params = []
    if plist is None:
        # derived from the Python signature
        if row.sig is None:
            raise DefError(f"{where}: {name} needs explicit parameters")
        for p in row.sig.params:
            if p.conv == "stream":
                continue
            ck = {"array": "array", "weak": "array", "weak?": "array?", "array?": "array?", "key": "key",
                  "axes": "ints", "shape": "shape", "axis": "int", "int": "int",
                  "bool": "bool", "float": "double", "uint64": "uint64", "dtype": "dtype",
                  "arrays": "vector", "str": "str"}.get(p.conv)
            if ck is None:
                raise DefError(f"{where}: cannot derive a C parameter for {p.name}: {p.conv}")
            params.append((ck, p.name))
        if call is None:
            call = row.call_expr_for_c()
    else:
        for it in split_top(plist):
            pm = re.fullmatch(r"([\w?]+)\s+(\w+)", it)
            if not pm or pm.group(1) not in C_KINDS:
                raise DefError(f"{where}: bad C parameter {it!r}")
            params.append((pm.group(1), pm.group(2)))
    if res in ("array", "pair", "none"):
        result = (res,)
    elif res == "vector":  # as many arrays as the call makes (it mallocs OUT)
        result = ("vector", None)
    else:
        rm = re.fullmatch(r"vector\((\w+)\)", res)
        if not rm or (("vector", rm.group(1)) not in params):
            raise DefError(f"{where}: bad mlx-c result {res!r}")
        result = ("vector", rm.group(1))
    manual = "manual" in flags
    if not manual and call is None:
        raise DefError(f"{where}: {name} needs a call")
    return CVariant(name, params, result, call, manual, "nostream" in flags)


def read_rows(path):
    logical, handwritten = [], {}
    for lineno, raw in enumerate(Path(path).read_text().splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw[0] in " \t":
            if not logical:
                raise DefError(f"api.def:{lineno}: continuation without a row")
            logical[-1][1] += " " + raw.strip()
            continue
        if raw.startswith("handwritten "):
            words = raw.split()
            if len(words) < 3:
                raise DefError(f"api.def:{lineno}: handwritten <module> <names...>")
            handwritten.setdefault(words[1], set()).update(words[2:])
            continue
        logical.append([lineno, raw.strip()])
    rows = []
    for lineno, text in logical:
        where = f"api.def:{lineno}"
        f = [x.strip() for x in text.split(" | ")]
        if len(f) != 6:
            raise DefError(f"{where}: expected 6 fields separated by ' | ', got {len(f)}")
        r = Row()
        r.lineno = lineno
        r.pyname, sig, method, r.call, cfield, r.doc = f
        if r.pyname == "-":
            r.module, r.name, r.sig = None, None, None
        else:
            parts = r.pyname.split(".")
            r.module, r.name = ("core", parts[0]) if len(parts) == 1 else (parts[0], parts[1])
            if r.module not in MODULES:
                raise DefError(f"{where}: unknown module {r.module}")
            r.sig = parse_sig(sig, where)
        r.method = None
        if method not in ("-", "="):
            if r.sig is None:
                raise DefError(f"{where}: a method needs a Python signature")
            byname = {p.name: p.conv for p in r.sig.params}
            r.method = parse_sig(method, where + " (method)",
                                 lambda n: byname.get(n) or (_ for _ in ()).throw(
                                     DefError(f"{where}: method parameter {n} unknown")))
        elif method == "=":
            if r.sig is None or not r.sig.params:
                raise DefError(f"{where}: '=' method needs a signature")
            rest = r.sig.params[1:]
            r.method = Sig([Param(p.name, p.conv, p.default, p.kind) for p in rest],
                           r.sig.result)
        if r.method is not None:
            if r.sig.params[0].conv != "array":
                raise DefError(f"{where}: a method's self must be an array parameter")
            for p in r.method.params:
                if p.name == r.sig.params[0].name:
                    raise DefError(f"{where}: method re-declares self")
        r.row_call_is_bare = re.fullmatch(r"[A-Za-z_]\w*", r.call) is not None
        r.cvariants = []
        if cfield != "-":
            for v in split_top(cfield, ";"):
                r.cvariants.append(parse_cvariant(v, r, where))
        rows.append(r)
    seen = set()
    for r in rows:
        key = (r.module, r.name)
        if r.name and key in seen:
            raise DefError(f"api.def:{r.lineno}: {r.pyname} defined twice")
        seen.add(key)
    return rows, handwritten


def _call_expr_for_c(self):
    """The row's call written in Python parameter names (stream -> s) for derived variants."""
    if self.row_call_is_bare:
        args = ["s" if p.conv == "stream" else p.name for p in self.sig.params]
        return f"{self.call}({', '.join(args)})"
    stream = [p.name for p in self.sig.params if p.conv == "stream"]
    return substitute(self.call, {stream[0]: "s"} if stream else {})


Row.call_expr_for_c = _call_expr_for_c


def substitute(expr, mapping):
    """Replaces identifiers of expr found in mapping (not after '.' or '->')."""
    def rep(m):
        start = m.start()
        before = expr[max(0, start - 2):start]
        if before.endswith(".") or before.endswith("->"):
            return m.group(0)
        return mapping.get(m.group(0), m.group(0))
    return re.sub(r"[A-Za-z_]\w*", rep, expr)


# ----------------------------------------------------------------------------------------
# C helpers
# ----------------------------------------------------------------------------------------

def c_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dtype_enum(name, where):
    if name not in DTYPES:
        raise DefError(f"{where}: unknown dtype default {name}")
    return "MX_BOOL" if name == "bool_" else "MX_" + name.upper()


def literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None


# ----------------------------------------------------------------------------------------
# Python bindings
# ----------------------------------------------------------------------------------------

class PyParamCode:
    """Declarations, conversion, cleanup and call expansion of one parameter."""

    def __init__(self, p, where):
        self.p, self.v, self.where = p, "p_" + p.name, where

    def decls(self):
        v, c, d = self.v, self.p.conv, self.p.default
        if c in ("array", "array?", "weak", "weak?", "key"):
            return [f"mx_array *{v} = NULL;"]
        if c == "arrays":
            return [f"mx_array *{v}_store[{INLINE}];", f"mx_array **{v} = NULL;",
                    f"mx_array **{v}_heap = NULL;", f"int {v}_n = 0;", f"bool {v}_single = false;"]
        if c in ("axes", "shape"):
            t = "int" if c == "axes" else "int32_t"
            init_n, init_vals = self._list_default()
            ptr = "NULL" if init_n == "-1" else f"{v}_store"  # None axes: (NULL, -1)
            lines = [f"{t} {v}_store[{INLINE}];", f"{t} *{v} = {ptr};",
                     f"int {v}_n = {init_n};", f"{t} *{v}_heap = NULL;"]
            for i, x in enumerate(init_vals):
                lines.append(f"{v}_store[{i}] = {x};")
            return lines
        if c in ("int", "axis"):
            return [f"int {v} = {self._scalar_default(int)};"]
        if c == "uint64":
            return [f"uint64_t {v} = {self._scalar_default(int)}u;"]
        if c == "bool":
            return [f"bool {v} = {'true' if self._scalar_default(bool) else 'false'};"]
        if c == "float":
            return [f"double {v} = {float(self._scalar_default(float))!r};"]
        if c == "dtype":
            return [f"mx_dtype {v} = {dtype_enum(d, self.where) if d else 'MX_FLOAT32'};"]
        if c == "dtype?":
            if d not in (None, "None"):
                raise DefError(f"{self.where}: dtype? defaults to None")
            return [f"mx_dtype {v} = MX_FLOAT32;", f"bool {v}_has = false;"]
        if c == "float?":
            if d not in (None, "None"):
                raise DefError(f"{self.where}: float? defaults to None")
            return [f"double {v} = 0;", f"bool {v}_has = false;"]
        if c == "stream":
            if d not in (None, "None"):
                raise DefError(f"{self.where}: stream defaults to None")
            return [f"mx_stream {v};"]
        if c == "str":
            val = literal(d) if d is not None else ""
            if not isinstance(val, str):
                raise DefError(f"{self.where}: bad str default {d}")
            return [f"const char *{v} = {c_str(val)};"]
        if c == "int?":
            if d in (None, "None"):
                return [f"int {v} = 0;", f"bool {v}_has = false;"]
            return [f"int {v} = {self._scalar_default(int)};", f"bool {v}_has = true;"]
        if c == "ints":
            val = literal(d) if d not in (None, "None") else None
            if d not in (None, "None") and (not isinstance(val, int) or isinstance(val, bool)):
                raise DefError(f"{self.where}: ints parameters default to None, an int or nothing")
            lines = [f"int {v}_store[{INLINE}];", f"int *{v} = {v}_store;",
                     f"int {v}_n = {'-1' if d == 'None' else ('1' if d else '0')};",
                     f"int *{v}_heap = NULL;", f"bool {v}_scalar = {'true' if val is not None else 'false'};"]
            return lines + ([f"{v}_store[0] = {val};"] if val is not None else [])
        if c == "convpad":
            val = literal(d) if d is not None else None
            if d is not None and (not isinstance(val, int) or isinstance(val, bool)):
                raise DefError(f"{self.where}: convpad parameters default to an int or nothing")
            n = "1" if d is not None else "0"
            lines = [f"int {v}_store[{2 * INLINE}];", f"int *{v} = {v}_store;", f"int {v}_n = {n};",
                     f"int *{v}_hi = {v}_store + {INLINE};", f"int {v}_hi_n = {n};",
                     f"int *{v}_heap = NULL;"]
            return lines + ([f"{v}_store[0] = {val};", f"{v}_store[{INLINE}] = {val};"]
                            if val is not None else [])
        if c == "pairs":
            if d is not None:
                raise DefError(f"{self.where}: pairs parameters take no default")
            return [f"int32_t {v}_store[{2 * INLINE}];", f"int32_t *{v} = {v}_store;",
                    f"int {v}_n = 0;", f"int32_t *{v}_heap = NULL;"]
        if c == "tdaxes":
            val = literal(d) if d is not None else 2
            if not isinstance(val, int):
                raise DefError(f"{self.where}: tdaxes default must be an int")
            return [f"int {v}_store[{2 * INLINE}];", f"int *{v} = {v}_store;", f"int {v}_n = 0;",
                    f"int {v}_split = 0;", f"int *{v}_heap = NULL;", f"bool {v}_scalar = true;",
                    f"int {v}_int = {val};"]
        raise DefError(f"{self.where}: no declaration for {c}")

    def _scalar_default(self, typ):
        d = self.p.default
        if d is None:
            return typ()
        val = literal(d)
        if not isinstance(val, (bool, int, float)):
            raise DefError(f"{self.where}: bad default {d} for {self.p.name}")
        return typ(val)

    def _list_default(self):
        d = self.p.default
        if d is None:
            return ("0", []) if self.p.conv == "shape" else ("-1", [])
        if d == "None":
            if self.p.conv == "shape":
                raise DefError(f"{self.where}: a shape cannot default to None")
            return "-1", []
        val = literal(d)
        if isinstance(val, int) and not isinstance(val, bool):
            return "1", [str(val)]
        if isinstance(val, (list, tuple)) and all(isinstance(x, int) for x in val):
            if len(val) > INLINE:
                raise DefError(f"{self.where}: default too long")
            return str(len(val)), [str(x) for x in val]
        raise DefError(f"{self.where}: bad default {d}")

    def convert(self, o):
        """Statements converting PyObject* expression o (NULL when not passed)."""
        v, c, d = self.v, self.p.conv, self.p.default
        req = self.p.required
        if c == "array":
            if req:
                return [f"if (mxpy_to_array({o}, &{v}) < 0) goto done;"]
            val = literal(d)
            if isinstance(val, bool):
                mk = f"mx_array_scalar_i64({int(val)}, MX_BOOL)"
            elif isinstance(val, int):
                mk = f"mx_array_scalar_i64({val}, {'MX_INT32' if -2**31 <= val < 2**31 else 'MX_INT64'})"
            elif isinstance(val, float):
                mk = f"mx_array_scalar_f64({val!r}, MX_FLOAT32)"
            else:
                raise DefError(f"{self.where}: bad array default {d}")
            return [f"if ({o}) {{",
                    f"  if (mxpy_to_array({o}, &{v}) < 0) goto done;",
                    f"}} else if (!({v} = {mk})) {{",
                    "  mxpy_raise();",
                    "  goto done;",
                    "}"]
        if c == "array?":
            return [f"if ({o} && {o} != Py_None && mxpy_to_array({o}, &{v}) < 0) goto done;"]
        if c == "key":
            return [f"if ({o} && {o} != Py_None) {{",
                    f"  if (mxpy_to_array({o}, &{v}) < 0) goto done;",
                    f"}} else if (mxpy_random_next_key(&{v}) < 0) {{",
                    "  goto done;",
                    "}"]
        if c == "arrays":
            return [f"if (mxpy_to_array_list({o}, &{v}, &{v}_n, {v}_store, {INLINE}, &{v}_heap, "
                    f"&{v}_single) < 0) goto done;"]
        if c in ("axes", "shape"):
            fn = "mxpy_to_axes" if c == "axes" else "mxpy_to_shape"
            stmt = f"{fn}({o}, &{v}, &{v}_n, {v}_store, {INLINE}, &{v}_heap) < 0"
            return [f"if ({stmt}) goto done;"] if req else [f"if ({o} && {stmt}) goto done;"]
        simple = {"int": "mxpy_to_int", "axis": "mxpy_to_int", "uint64": "mxpy_to_uint64",
                  "bool": "mxpy_to_bool", "float": "mxpy_to_double", "dtype": "mxpy_to_dtype"}
        if c in simple:
            stmt = f"{simple[c]}({o}, &{v}) < 0"
            return [f"if ({stmt}) goto done;"] if req else [f"if ({o} && {stmt}) goto done;"]
        if c in ("dtype?", "float?"):
            fn = {"dtype?": "mxpy_to_dtype", "float?": "mxpy_to_double"}[c]
            return [f"if ({o} && {o} != Py_None) {{",
                    f"  if ({fn}({o}, &{v}) < 0) goto done;",
                    f"  {v}_has = true;",
                    "}"]
        if c == "stream":
            return [f"if (mxpy_to_stream({o}, &{v}) < 0) goto done;"]
        if c == "str":
            stmt = f"mxpy_to_str({o}, &{v}) < 0"
            return [f"if ({stmt}) goto done;"] if req else [f"if ({o} && {stmt}) goto done;"]
        if c == "int?":
            return [f"if ({o}) {{",
                    f"  {v}_has = {o} != Py_None;",
                    f"  if ({v}_has && mxpy_to_int({o}, &{v}) < 0) goto done;",
                    "}"]
        if c == "ints":
            stmt = (f"mxpy_to_ints({o}, &{v}, &{v}_n, {v}_store, {INLINE}, &{v}_heap, "
                    f"&{v}_scalar) < 0")
            return [f"if ({stmt}) goto done;"] if req else [f"if ({o} && {stmt}) goto done;"]
        if c == "convpad":
            stmt = (f"mxpy_to_convpad({o}, &{v}, &{v}_n, &{v}_hi, &{v}_hi_n, {v}_store, {INLINE}, "
                    f"&{v}_heap) < 0")
            return [f"if ({stmt}) goto done;"] if req else [f"if ({o} && {stmt}) goto done;"]
        if c == "pairs":
            return [f"if (mxpy_to_pairs({o}, &{v}, &{v}_n, {v}_store, {INLINE}, &{v}_heap) < 0) "
                    "goto done;"]
        if c == "tdaxes":
            stmt = (f"mxpy_to_tdaxes({o}, &{v}_int, &{v}_scalar, &{v}, &{v}_n, &{v}_split, "
                    f"{v}_store, {2 * INLINE}, &{v}_heap) < 0")
            return [f"if ({stmt}) goto done;"] if req else [f"if ({o} && {stmt}) goto done;"]
        raise DefError(f"{self.where}: no conversion for {c}")

    def convert_varargs(self):
        v = self.v
        if self.p.conv == "arrays":
            return [f"(void){v}_single; /* positional arrays always form a list */",
                    f"if (mxpy_to_array_args(args, nargs, &{v}, &{v}_n, {v}_store, {INLINE}, "
                    f"&{v}_heap) < 0) goto done;"]
        fn = "mxpy_to_axes_args" if self.p.conv == "axes" else "mxpy_to_shape_args"
        return [f"if ({fn}(args, nargs, &{v}, &{v}_n, {v}_store, {INLINE}, &{v}_heap) < 0) "
                "goto done;"]

    def cleanup(self):
        v, c = self.v, self.p.conv
        if c in ("array", "array?", "weak", "weak?", "key"):
            return [f"mx_array_release({v});"]
        if c == "arrays":
            return [f"for (int i_ = 0; {v} && i_ < {v}_n; i_++) mx_array_release({v}[i_]);",
                    f"free({v}_heap);"]
        if c in ("axes", "shape", "ints", "pairs", "tdaxes", "convpad"):
            return [f"free({v}_heap);"]
        return []

    def expansion(self):
        c = self.p.conv
        if c in ("arrays", "axes", "shape", "ints", "pairs"):
            return f"{self.v}, {self.v}_n"
        if c == "int?":
            return f"({self.v}_has ? &{self.v} : NULL)"
        if c == "convpad":
            return f"{self.v}, {self.v}_n, {self.v}_hi, {self.v}_hi_n"
        if c == "tdaxes":
            raise DefError(f"{self.where}: a tdaxes parameter needs a call expression")
        return self.v


# Names a call expression may use besides the parameter itself (NAME_n, NAME_has, ...).
CALL_SUFFIXES = ("_n", "_has", "_scalar", "_int", "_split", "_hi", "_hi_n")


def py_call_expr(row, codes):
    if row.row_call_is_bare:
        return f"{row.call}({', '.join(c.expansion() for c in codes)})"
    mapping = {}
    for c in codes:
        if c.p.conv != "tdaxes":
            mapping[c.p.name] = c.expansion()
        else:
            mapping[c.p.name] = c.v
        for sfx in CALL_SUFFIXES:
            mapping[c.p.name + sfx] = c.v + sfx
    mapping["OUT"] = "&out_, &n_" if row.sig.result[0] != "array" and row.sig.result[1] is None \
        else "out_"
    return substitute(row.call, mapping)


def text_signature(sig, selfname=None, with_self=False):
    parts = ["$self"] if with_self else []
    slash_done = False
    star_done = False
    named = [p for p in sig.params]
    for i, p in enumerate(named):
        if p.kind != "posonly" and not slash_done and any(q.kind == "posonly" for q in named[:i]):
            parts.append("/")
            slash_done = True
        if p.kind == "varargs":
            parts.append("*" + p.name)
            star_done = True
            continue
        if p.kind == "kwonly" and not star_done:
            parts.append("*")
            star_done = True
        parts.append(p.name if p.default is None else f"{p.name}={p.default}")
    if named and named[-1].kind == "posonly":
        parts.append("/")
    return "(" + ", ".join(parts) + ")"


def defaults_are_literals(sig):
    for p in sig.params:
        if p.default is not None and literal(p.default) is None and p.default != "None":
            return False
    return True


class PyWrapper:
    def __init__(self, row, sig, is_method):
        self.row, self.sig, self.is_method = row, sig, is_method
        mod = "array" if is_method else row.module
        self.cname = f"mxpy_gen_{mod}_{row.name}"
        self.sigvar = f"mxpy_sig_{mod}_{row.name}"
        self.docvar = f"mxpy_doc_{mod}_{row.name}"
        self.msgname = f"array.{row.name}" if is_method else row.name
        self.where = f"api.def:{row.lineno}"

    def doc(self):
        ts = text_signature(self.sig, with_self=self.is_method)
        if defaults_are_literals(self.sig):
            return f"{self.row.name}{ts}\n--\n\n{self.row.doc}"
        return f"{self.row.name}{ts.replace('$self, ', '').replace('($self)', '()')}\n\n{self.row.doc}"

    def emit(self):
        row, sig = self.row, self.sig
        named = sig.named()
        va = sig.varargs()
        o = []
        names = ", ".join(c_str(p.name) for p in named) or "NULL"
        n = len(named)
        required = 0
        for i, p in enumerate(named):
            if p.required:
                required |= 1 << i
        npos = len([p for p in named if p.kind in ("posonly", "pos")])
        nposonly = len([p for p in named if p.kind == "posonly"])
        if n:
            o.append(f"static const char *const {self.sigvar}_names[] = {{{names}}};")
            o.append(f"static PyObject *{self.sigvar}_kw[{n}];")
        o.append(f"static const mxpy_sig {self.sigvar} = {{{c_str(self.msgname)}, {n}, {npos}, "
                 f"{nposonly}, 0x{required:x}u, {1 if va else 0}, "
                 f"{self.sigvar + '_names' if n else 'NULL'}, {self.sigvar + '_kw' if n else 'NULL'}}};")
        o.append(f"static const char {self.docvar}[] = {c_str(self.doc())};")
        o.append("")
        first = "self" if self.is_method else "module"
        o.append(f"static PyObject *{self.cname}(PyObject *{first}, PyObject *const *args, "
                 "Py_ssize_t nargs, PyObject *kwnames) {")
        if not self.is_method:
            o.append("  (void)module;")
        # every function parameter gets a code object (methods: self + method params)
        fparams = row.sig.params
        if self.is_method:
            selfp = fparams[0]
            mparams = {p.name: p for p in sig.params}
            codes = []
            for fp in fparams:
                if fp is selfp:
                    codes.append(PyParamCode(fp, self.where))
                else:
                    mp = mparams.get(fp.name)
                    if mp is None:
                        raise DefError(f"{self.where}: method lacks parameter {fp.name}")
                    codes.append(PyParamCode(Param(fp.name, mp.conv, mp.default, mp.kind), self.where))
            for mp in sig.params:
                if mp.name not in {fp.name for fp in fparams}:
                    raise DefError(f"{self.where}: method parameter {mp.name} not in the function")
        else:
            codes = [PyParamCode(p, self.where) for p in fparams]
        if n:
            o.append(f"  PyObject *av[{n}] = {{{', '.join(['NULL'] * n)}}};")
            o.append(f"  if (mxpy_parse_args(&{self.sigvar}, args, nargs, kwnames, av) < 0) return NULL;")
        else:
            o.append(f"  if (mxpy_parse_args(&{self.sigvar}, args, nargs, kwnames, NULL) < 0) return NULL;")
        o.append("  PyObject *ret = NULL;")
        for c in codes:
            o += ["  " + d for d in c.decls()]
        # conversions, in parameter order; the weak group at its first member
        argindex = {p.name: i for i, p in enumerate(named)}
        weak = [c for c in codes if c.p.conv in ("weak", "weak?")]
        weak_done = False
        for c in codes:
            if self.is_method and c.p is fparams[0]:
                o.append(f"  if (mxpy_to_array(self, &{c.v}) < 0) goto done;")
                continue
            if c.p.kind == "varargs":
                o += ["  " + s for s in c.convert_varargs()]
                continue
            src = f"av[{argindex[c.p.name]}]"
            if c.p.conv in ("weak", "weak?"):
                if weak_done:
                    continue
                weak_done = True
                # weak? takes None as "not given" (NULL)
                objs = ", ".join(f"av[{argindex[w.p.name]}]" if w.p.conv == "weak" else
                                 f"(av[{argindex[w.p.name]}] == Py_None ? NULL : "
                                 f"av[{argindex[w.p.name]}])" for w in weak)
                o.append("  {")
                o.append(f"    PyObject *wobj[{len(weak)}] = {{{objs}}};")
                o.append(f"    mx_array *warr[{len(weak)}] = {{{', '.join(['NULL'] * len(weak))}}};")
                o.append(f"    if (mxpy_to_weak_arrays(wobj, {len(weak)}, warr) < 0) goto done;")
                for i, w in enumerate(weak):
                    o.append(f"    {w.v} = warr[{i}];")
                o.append("  }")
                continue
            o += ["  " + s for s in c.convert(src)]
        call = py_call_expr(row, codes)
        if row.sig.result[0] == "array":
            o.append("  {")
            o.append(f"    mx_array *res = {call};")
            o.append("    ret = res ? mxpy_array_wrap(res) : mxpy_raise();")
            o.append("  }")
        else:
            o += self.emit_sequence(call)
        o.append("done:")
        for c in codes:
            o += ["  " + s for s in c.cleanup()]
        o.append("  return ret;")
        o.append("}")
        o.append("")
        return o

    def emit_sequence(self, call):
        """A call filling several arrays: a fixed count (the arrays parameter's) into out_,
        or a count the call chooses (it mallocs *out_ and sets n_)."""
        kind, pname = self.row.sig.result
        lp = "p_" + pname if pname else None
        o = ["  {"]
        if lp:
            o += [f"    mx_array *out_store[{INLINE}];",
                  "    mx_array **out_ = out_store;",
                  f"    int n_ = {lp}_n;",
                  f"    if (n_ > {INLINE} && !(out_ = calloc((size_t)n_, sizeof *out_))) {{",
                  "      PyErr_NoMemory();",
                  "      goto done;",
                  "    }",
                  "    for (int i_ = 0; i_ < n_; i_++) out_[i_] = NULL;"]
        else:
            o += ["    mx_array **out_ = NULL;", "    int n_ = 0;"]
        one = {"list": f"{lp}_single && n_ == 1" if lp else None,
               "list1": "n_ == 1", "tuple": None}[kind]
        new = "PyTuple_New(n_)" if kind == "tuple" else "PyList_New(n_)"
        setitem = "PyTuple_SET_ITEM" if kind == "tuple" else "PyList_SET_ITEM"
        o += [f"    if ({call} != 0) {{",
              "      mxpy_raise();",
              "      for (int i_ = 0; out_ && i_ < n_; i_++) mx_array_release(out_[i_]);"]
        if one:
            o += [f"    }} else if ({one}) {{",
                  "      ret = mxpy_array_wrap(out_[0]);"]
        o += [f"    }} else if ((ret = {new})) {{",
              "      for (int i_ = 0; i_ < n_; i_++) {",
              "        PyObject *item = mxpy_array_wrap(out_[i_]);",
              "        if (!item) {",
              "          for (int j_ = i_ + 1; j_ < n_; j_++) mx_array_release(out_[j_]);",
              "          Py_CLEAR(ret);",
              "          break;",
              "        }",
              f"        {setitem}(ret, i_, item);",
              "      }",
              "    } else {",
              "      for (int i_ = 0; i_ < n_; i_++) mx_array_release(out_[i_]);",
              "    }"]
        o += ["    if (out_ != out_store) free(out_);" if lp else "    free(out_);", "  }"]
        return o

    def methoddef(self):
        return (f"  {{{c_str(self.row.name)}, (PyCFunction)(void (*)(void)){self.cname}, "
                f"METH_FASTCALL | METH_KEYWORDS, {self.docvar}}},")


def gen_py(rows):
    wrappers = {m: [] for m in MODULES}
    methods = []
    for r in rows:
        if r.sig is None:
            continue
        wrappers[r.module].append(PyWrapper(r, r.sig, False))
        if r.method is not None:
            methods.append(PyWrapper(r, r.method, True))
    c = ["/* py_bindings_gen.c: GENERATED by tools/gen_api.py from tables/api.def; do not edit.",
         " * METH_FASTCALL|METH_KEYWORDS wrappers: parse (interned keywords), convert",
         " * (python/src/convert.h), call the op (src/ops/ops.h), release, wrap. */",
         '#include "py_bindings_gen.h"', "",
         "#include <stdlib.h>", ""]
    for m in MODULES:
        for w in wrappers[m]:
            c += w.emit()
    for w in methods:
        c += w.emit()
    for m in MODULES:
        c.append(f"PyMethodDef mxpy_{m}_methods_gen[] = {{")
        c += [w.methoddef() for w in wrappers[m]]
        c.append("  {NULL, NULL, 0, NULL},")
        c.append("};")
        c.append("")
    c.append("PyMethodDef mxpy_array_methods_gen[] = {")
    c += [w.methoddef() for w in methods]
    c.append("  {NULL, NULL, 0, NULL},")
    c.append("};")
    c.append("")
    allsigs = [w for m in MODULES for w in wrappers[m]] + methods
    c.append("int mxpy_bindings_gen_init(void) {")
    for w in allsigs:
        if w.sig.named():
            c.append(f"  if (mxpy_sig_intern(&{w.sigvar}) < 0) return -1;")
    c.append("  return 0;")
    c.append("}")
    c.append("")
    c.append("int mxpy_array_add_methods_gen(PyTypeObject *type) {")
    c.append("  for (PyMethodDef *d = mxpy_array_methods_gen; d->ml_name; d++) {")
    c.append("    PyObject *descr = PyDescr_NewMethod(type, d);")
    c.append("    if (!descr) return -1;")
    c.append("    int rc = PyDict_SetItemString(type->tp_dict, d->ml_name, descr);")
    c.append("    Py_DECREF(descr);")
    c.append("    if (rc < 0) return -1;")
    c.append("  }")
    c.append("  PyType_Modified(type);")
    c.append("  return 0;")
    c.append("}")
    c.append("")
    h = ["/* py_bindings_gen.h: GENERATED by tools/gen_api.py from tables/api.def; do not edit.",
         " * Method tables of the generated bindings, to merge with the hand-written ones. */",
         "#ifndef MXPY_BINDINGS_GEN_H", "#define MXPY_BINDINGS_GEN_H", "",
         '#include "../../python/src/convert.h" /* found through the src/core include dir */',
         '#include "../../python/src/convert_ext.h" /* str, int?, ints, pairs, tdaxes, *arrays */',
         '#include "../../python/src/convert_conv.h" /* convpad */',
         "",
         "/* NULL-terminated METH_FASTCALL|METH_KEYWORDS tables. */"]
    for m in MODULES:
        h.append(f"extern PyMethodDef mxpy_{m}_methods_gen[];   /* mlx.core"
                 f"{'' if m == 'core' else '.' + m} */")
    h += ["extern PyMethodDef mxpy_array_methods_gen[];  /* mx.array methods (self = the array) */",
          "",
          "/* Interns every keyword name now (otherwise done on first keyword use). 0 or -1. */",
          "int mxpy_bindings_gen_init(void);",
          "/* Installs mxpy_array_methods_gen into a ready type's dict (for types whose",
          " * tp_methods cannot include them). 0 or -1 + exception. */",
          "int mxpy_array_add_methods_gen(PyTypeObject *type);", "",
          "#endif", ""]
    return "\n".join(c), "\n".join(h)


# ----------------------------------------------------------------------------------------
# mlx-c wrappers
# ----------------------------------------------------------------------------------------

def c_param_decl(kind, name):
    return {"array": [f"const mlx_array {name}"], "array?": [f"const mlx_array {name}"],
            "key": [f"const mlx_array {name}"],
            "ints": [f"const int* {name}", f"size_t {name}_num"],
            "shape": [f"const int* {name}", f"size_t {name}_num"],
            "int": [f"int {name}"], "bool": [f"bool {name}"], "float": [f"float {name}"],
            "double": [f"double {name}"], "uint64": [f"uint64_t {name}"],
            "float?": [f"mlx_optional_float {name}"],
            "int?": [f"mlx_optional_int {name}"],
            "dtype?": [f"mlx_optional_dtype {name}"],
            "dtype": [f"mlx_dtype {name}"],
            "vector": [f"const mlx_vector_array {name}"],
            "str": [f"const char* {name}"],
            "i64s": [f"const int64_t* {name}", f"size_t {name}_num"],
            "size": [f"size_t {name}"], "fftnorm": [f"mlx_fft_norm {name}"]}[kind]


def c_proto(v):
    args = []
    if v.result[0] == "array":
        args.append("mlx_array* res")
    elif v.result[0] == "pair":
        args += ["mlx_array* res_0", "mlx_array* res_1"]
    elif v.result[0] == "vector":
        args.append("mlx_vector_array* res")
    for k, n in v.params:
        args += c_param_decl(k, n)
    if not v.nostream:
        args.append("const mlx_stream s")
    return f"int {v.name}({', '.join(args) if args else 'void'})"


def c_header_of(v):
    for h in C_HEADERS[1:]:
        if v.name.startswith(f"mlx_{h}_"):
            return h
    return "ops"


def emit_c_wrapper(v, where):
    o = [c_proto(v) + " {"]
    mapping = {}
    release = []
    if not v.nostream:
        o.append("  mx_stream c_s;")
        o.append("  if (mx_capi_stream(s, &c_s)) return 1;")
        mapping["s"] = "c_s"
    for k, n in v.params:
        cv = "c_" + n
        if k == "array":
            o.append(f"  mx_array *{cv} = mx_capi_node({n});")
            mapping[n] = cv
        elif k == "array?":
            o.append(f"  mx_array *{cv} = {n}.ctx ? mx_capi_node({n}) : NULL;")
            mapping[n] = cv
        elif k == "key":
            o.append(f"  mx_array *{cv}_own;")
            o.append(f"  mx_array *{cv} = mx_capi_key({n}, &{cv}_own);")
            release.append(f"mx_array_release({cv}_own);")
            mapping[n] = cv
        elif k == "ints":
            mapping[n] = f"{n}, (int){n}_num"
            mapping[n + "_n"] = f"(int){n}_num"
        elif k == "shape":
            mapping[n] = f"(const int32_t *){n}, (int){n}_num"
            mapping[n + "_n"] = f"(int){n}_num"
        elif k == "i64s":
            mapping[n] = f"{n}, (int){n}_num"
            mapping[n + "_n"] = f"(int){n}_num"
        elif k == "dtype":
            mapping[n] = f"(mx_dtype){n}"
        elif k == "float?":
            mapping[n] = f"{n}.value"
            mapping[n + "_has"] = f"{n}.has_value"
        elif k == "int?":
            mapping[n] = f"({n}.has_value ? &{n}.value : NULL)"
            mapping[n + "_has"] = f"{n}.has_value"
        elif k == "dtype?":
            mapping[n] = f"(mx_dtype){n}.value"
            mapping[n + "_has"] = f"{n}.has_value"
        elif k == "vector":
            o.append(f"  mx_array *const *{cv};")
            o.append(f"  int {cv}_n;")
            o.append(f"  if (mx_capi_vector_nodes({n}, &{cv}, &{cv}_n)) return 1;")
            mapping[n] = f"{cv}, {cv}_n"
            mapping[n + "_n"] = f"{cv}_n"
        else:
            mapping[n] = n
    mapping["OUT"] = "&out_, &n_" if v.result == ("vector", None) else "out_"
    call = substitute(v.call, mapping)
    if v.result[0] == "array":
        o.append(f"  mx_array *r = {call};")
        o += ["  " + s for s in release]
        o.append("  return mx_capi_set_array_at(res, r, __FILE__, __LINE__);")
    elif v.result == ("vector", None):
        o += ["  mx_array **out_ = NULL;",
              "  int n_ = 0;",
              f"  int rc = {call};"]
        o += ["  " + s for s in release]
        o += ["  if (rc != 0) {",
              "    for (int i_ = 0; out_ && i_ < n_; i_++) mx_array_release(out_[i_]);",
              "    free(out_);",
              "    return mx_capi_report(__FILE__, __LINE__);",
              "  }",
              "  rc = mx_capi_set_vector_at(res, out_, n_, __FILE__, __LINE__);",
              "  free(out_);",
              "  return rc;"]
    elif v.result[0] == "vector":
        cv = "c_" + v.result[1]
        o += [f"  mx_array *out_store[{INLINE}];",
              "  mx_array **out_ = out_store;",
              f"  int n_ = {cv}_n;",
              f"  if (n_ > {INLINE} && !(out_ = calloc((size_t)n_, sizeof *out_)))",
              '    return mx_capi_fail(__FILE__, __LINE__, MX_ENOMEM, "[malloc] Unable to allocate outputs.");',
              "  for (int i_ = 0; i_ < n_; i_++) out_[i_] = NULL;",
              f"  int rc = {call};"]
        o += ["  " + s for s in release]
        o += ["  if (rc != 0) {",
              "    for (int i_ = 0; i_ < n_; i_++) mx_array_release(out_[i_]);",
              "    if (out_ != out_store) free(out_);",
              "    return mx_capi_report(__FILE__, __LINE__);",
              "  }",
              "  rc = mx_capi_set_vector_at(res, out_, n_, __FILE__, __LINE__);",
              "  if (out_ != out_store) free(out_);",
              "  return rc;"]
    else:
        raise DefError(f"{where}: {v.name}: result {v.result[0]} needs 'manual'")
    o.append("}")
    o.append("")
    return o


def gen_capi(rows):
    headers = {h: [] for h in C_HEADERS}
    source = ["/* capi_ops_gen.c: GENERATED by tools/gen_api.py from tables/api.def; do not edit.",
              " * mlx-c wrappers: convert handles, call the op (src/ops/ops.h), store the result",
              " * through mx_capi_set_array_at (errors reported at this file's lines). */",
              '#include "../capi/capi_private.h" /* found through the src/core include dir */', "",
              "#include <stdlib.h>", ""]
    names = set()
    for r in rows:
        where = f"api.def:{r.lineno}"
        documented = set()
        for v in r.cvariants:
            if v.name in names:
                raise DefError(f"{where}: {v.name} defined twice")
            names.add(v.name)
            hname = c_header_of(v)
            if hname not in documented:
                documented.add(hname)
                headers[hname].append(f"/* {r.doc} */")
            headers[hname].append(c_proto(v) + ";")
            if not v.manual:
                source += emit_c_wrapper(v, where)
    out = {}
    for name, decls in headers.items():
        guard = f"MLX_{name.upper()}_H"
        text = [f"/* {name}.h: GENERATED by tools/gen_api.py from tables/api.def; do not edit.",
                " * mlx-c functions: 0 on success, 1 after reporting to the error handler. */",
                f"#ifndef {guard}", f"#define {guard}", "",
                "#include <stdbool.h>", "#include <stddef.h>", "#include <stdint.h>", "",
                '#include "mlx/c/array.h"', '#include "mlx/c/optional.h"', '#include "mlx/c/stream.h"',
                '#include "mlx/c/vector.h"',
                "", "#ifdef __cplusplus", 'extern "C" {', "#endif", ""]
        if name == "fft":  # the enum of the fftnorm kind
            text += ["typedef enum mlx_fft_norm_ {", "  MLX_FFT_NORM_BACKWARD,", "  MLX_FFT_NORM_ORTHO,",
                     "  MLX_FFT_NORM_FORWARD", "} mlx_fft_norm;", ""]
        text += decls
        text += ["", "#ifdef __cplusplus", "}", "#endif", "", "#endif", ""]
        out[f"mlx/c/{name}.h"] = "\n".join(text)
    out["capi_ops_gen.c"] = "\n".join(source)
    return out, names


# ----------------------------------------------------------------------------------------
# stubs
# ----------------------------------------------------------------------------------------

PYI_TYPES = {"array": "array", "array?": "Optional[array]", "weak": "Union[scalar, array]",
             "weak?": "Optional[Union[scalar, array]]",
             "key": "Optional[array]", "arrays": "Union[array, Sequence[array]]",
             "axes": "Union[None, int, Sequence[int]]", "shape": "Union[int, Sequence[int]]",
             "axis": "int", "int": "int", "uint64": "int", "bool": "bool", "float": "float",
             "float?": "Optional[float]",
             "dtype": "Dtype", "dtype?": "Optional[Dtype]",
             "stream": "Union[None, Stream, Device]",
             "str": "str", "int?": "Optional[int]", "ints": "Union[None, int, Sequence[int]]",
             "pairs": "Union[int, Tuple[int], Tuple[int, int], List[Tuple[int, int]]]",
             "tdaxes": "Union[int, List[Sequence[int]]]",
             "convpad": "Union[int, Sequence[int], Tuple[Sequence[int], Sequence[int]]]"}


def pyi_params(sig, with_self):
    parts = ["self"] if with_self else []
    star = False
    for i, p in enumerate(sig.params):
        if p.kind != "posonly" and i and sig.params[i - 1].kind == "posonly":
            parts.append("/")
        if p.kind == "varargs":
            parts.append(f"*{p.name}: array" if p.conv == "arrays"
                         else f"*{p.name}: Union[int, Sequence[int]]")
            star = True
            continue
        if p.kind == "kwonly" and not star:
            parts.append("*")
            star = True
        t = PYI_TYPES[p.conv]
        if p.conv == "ints" and p.default != "None":
            t = "Union[int, Sequence[int]]"
        if p.conv == "array" and p.default is not None:  # uniform(low=0, ...): scalars too
            t = "Union[scalar, array]"
        parts.append(f"{p.name}: {t}" + (f" = {p.default}" if p.default is not None else ""))
    if sig.params and sig.params[-1].kind == "posonly":
        parts.append("/")
    return ", ".join(parts)


def pyi_result(sig):
    if sig.result[0] == "list" and sig.result[1] and any(
            p.name == sig.result[1] and p.kind == "varargs" for p in sig.params):
        return "List[array]"  # positional arrays always give a list
    return {"array": "array", "list": "Union[array, List[array]]",
            "list1": "Union[array, List[array]]",
            "tuple": "Tuple[array, ...]"}[sig.result[0]] if sig.result[1:] != (None,) \
        else {"list": "List[array]", "tuple": "Tuple[array, ...]"}[sig.result[0]]


def gen_pyi(rows):
    o = ['"""core.pyi: GENERATED by tools/gen_api.py from tables/api.def; do not edit.',
         "",
         "Stubs of the generated part of mlx.core; the hand-written parts (array properties,",
         "dtypes, devices, transforms) are reached through the module __getattr__ below.", '"""',
         "from typing import Any, List, Optional, Sequence, Tuple, Union", "",
         "scalar = Union[bool, int, float, complex]", "",
         "class Dtype:", "    size: int", "",
         "class Device: ...", "", "class Stream: ...", ""]
    for d in DTYPES:
        o.append(f"{d}: Dtype")
    o += ["", "def __getattr__(name: str) -> Any: ...", "", "class array:",
          "    def __getattr__(self, name: str) -> Any: ..."]
    for r in rows:
        if r.method is None:
            continue
        o.append(f"    def {r.name}({pyi_params(r.method, True)}) -> {pyi_result(r.method)}:")
        o.append(f'        """{r.doc}"""')
        o.append("        ...")
    o.append("")
    for r in rows:
        if r.sig is None or r.module != "core":
            continue
        o.append(f"def {r.name}({pyi_params(r.sig, False)}) -> {pyi_result(r.sig)}:")
        o.append(f'    """{r.doc}"""')
        o.append("    ...")
        o.append("")
    for m in MODULES:
        if m == "core":
            continue
        o.append(f"class _{m}_module:")
        o.append(f'    """mlx.core.{m}"""')
        o.append("    def __getattr__(self, name: str) -> Any: ...")
        for r in rows:
            if r.sig is None or r.module != m:
                continue
            o.append("    @staticmethod")
            o.append(f"    def {r.name}({pyi_params(r.sig, False)}) -> {pyi_result(r.sig)}:")
            o.append(f'        """{r.doc}"""')
            o.append("        ...")
        o.append("")
        o.append(f"{m}: _{m}_module")
        o.append("")
    return "\n".join(o)


# ----------------------------------------------------------------------------------------
# coverage
# ----------------------------------------------------------------------------------------

SECTION_MODULE = {19: "random", 20: "fft", 21: "linalg", 22: "fast", 23: "distributed"}
STOP_WORDS = {"alias", "aliases", "deprecated", "buffer", "protocol", "property", "class",
              "enum", "attribute", "values", "also", "module", "attrs"}


def spec_python_names(text):
    """(section, module, name) for every name in the tables of sections 2-23."""
    out, section = [], None
    for line in text.splitlines():
        m = re.match(r"##\s+(\d+)\.", line)
        if m:
            section = int(m.group(1))
            continue
        if section is None or not (2 <= section <= 23) or not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        first = cells[0]
        if first in ("name", "") or set(first) <= set("-: "):
            continue
        if "dunders" in first or first.startswith("("):
            continue
        first = re.sub(r"[`*]", "", first)
        first = first.replace("(aliases", " ").replace("(alias", " ").replace(")", " ")
        prev = None
        for tok in re.split(r"[\s/,+()]+", first):
            if re.fullmatch(r"\d\w*", tok) and prev:  # conv_transpose1d / 2d / 3d
                tok = re.sub(r"\d\w*$", "", prev) + tok
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", tok) or tok in STOP_WORDS:
                continue
            prev = tok
            mod = "array" if section == 2 else SECTION_MODULE.get(section, "core")
            out.append((section, mod, tok))
    seen, uniq = set(), []
    for s, m, n in out:
        if (m, n) not in seen:
            seen.add((m, n))
            uniq.append((s, m, n))
    return uniq


def spec_c_names(text):
    ops, rnd = [], []
    m = re.search(r"### 2\.1[^\n]*\n(.*?)(?:\n\s*\n|\nSelected)", text, re.S)
    if m:
        body = m.group(1)
        body = re.sub(r"\([^)]*\)", "", body).replace(".", "")
        for item in body.split(","):
            item = item.strip()
            if not item:
                continue
            base, *suffixes = item.split("/")
            base = base.strip()
            ops.append(base)
            ops += [base + s.strip() for s in suffixes]
    m = re.search(r"\|\s*`random\.h`\s*\|\s*\d+\s*\|([^|]*)\|", text)
    if m:
        body = m.group(1)
        for item in body.split(","):
            item = item.strip()
            mm = re.fullmatch(r"(\w+)(?:\((.*)\))?", item)
            if not mm:
                continue
            base = mm.group(1)
            rnd.append(base)
            if mm.group(2):
                rnd += [base + s.strip() for s in mm.group(2).split("/")]
    return ops, rnd


def gen_coverage(rows, handwritten, cnames, spec_dir):
    impl = {(r.module, r.name) for r in rows if r.sig is not None}
    impl |= {("array", r.name) for r in rows if r.method is not None}
    for mod, names in handwritten.items():
        impl |= {(mod, n) for n in names}
    o = ["# API coverage", "",
         "GENERATED by tools/gen_api.py from tables/api.def and the spec; do not edit.",
         "Implemented = generated from api.def or listed there as hand-written.", ""]
    py_path = spec_dir / "python-api.md" if spec_dir else None
    c_path = spec_dir / "c-api.md" if spec_dir else None
    if py_path and py_path.exists():
        names = spec_python_names(py_path.read_text())
        done = [x for x in names if (x[1], x[2]) in impl]
        o.append(f"## Python (spec/python-api.md sections 2-23): {len(done)} / {len(names)} implemented")
        o.append("")
        cur = None
        for s, m, n in names:
            if s != cur:
                cur = s
                o.append("")
                o.append(f"### Section {s}")
                o.append("")
            mark = "x" if (m, n) in impl else " "
            qual = {"core": "mx.", "array": "array."}.get(m, f"mx.{m}.")
            o.append(f"- [{mark}] `{qual}{n}`")
        o.append("")
        listed = {(m, n) for _, m, n in names}
        extra = sorted(x for x in impl if x not in listed)
        if extra:
            o.append("Implemented but not in the spec tables: " +
                     ", ".join(f"`{m}.{n}`" for m, n in extra))
            o.append("")
    else:
        o.append("## Python: spec/python-api.md not found; generated names only")
        o.append("")
        for m, n in sorted(impl):
            o.append(f"- [x] `{m}.{n}`")
        o.append("")
    if c_path and c_path.exists():
        ops, rnd = spec_c_names(c_path.read_text())
        for title, lst, prefix in (("mlx/c/ops.h (spec/c-api.md 2.1)", ops, "mlx_"),
                                   ("mlx/c/random.h (spec/c-api.md 3)", rnd, "mlx_random_")):
            done = [n for n in lst if prefix + n in cnames]
            o.append(f"## {title}: {len(done)} / {len(lst)} implemented")
            o.append("")
            for n in lst:
                o.append(f"- [{'x' if prefix + n in cnames else ' '}] `{prefix}{n}`")
            o.append("")
    else:
        o.append("## mlx-c: spec/c-api.md not found; generated names only")
        o.append("")
        for n in sorted(cnames):
            o.append(f"- [x] `{n}`")
        o.append("")
    return "\n".join(o)


# ----------------------------------------------------------------------------------------

def write_if_changed(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: gen_api.py tables/api.def OUTDIR [SPEC_DIR]")
    src, outdir = Path(sys.argv[1]), Path(sys.argv[2])
    if len(sys.argv) > 3:
        spec_dir = Path(sys.argv[3])
    elif os.environ.get("MLX_SPEC_DIR"):
        spec_dir = Path(os.environ["MLX_SPEC_DIR"])
    else:
        spec_dir = src.resolve().parent.parent.parent / "shared" / "spec"
    try:
        rows, handwritten = read_rows(src)
        pyc, pyh = gen_py(rows)
        capi, cnames = gen_capi(rows)
        pyi = gen_pyi(rows)
        cov = gen_coverage(rows, handwritten, cnames, spec_dir if spec_dir.exists() else None)
    except DefError as e:
        sys.exit(f"gen_api.py: {e}")
    files = {"py_bindings_gen.c": pyc, "py_bindings_gen.h": pyh, "core.pyi": pyi,
             "api_coverage.md": cov}
    files.update(capi)
    for name, text in sorted(files.items()):
        write_if_changed(outdir / name, text)


if __name__ == "__main__":
    main()
