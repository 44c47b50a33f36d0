/* scan.c: the scans (the Scan primitive): cumsum, cumprod, cummax, cummin, logcumsumexp
 * along one axis or over the flattened array, forward or reverse, inclusive or exclusive.
 * Result dtypes as MLX: cumsum of bool is int32, logcumsumexp is at least float, the
 * others keep the input dtype; cumsum/cumprod cast to `dtype` first when it is given. */
#include "ops.h"

#include "../core/error.h"

mx_array *mx_scan(mx_array *a, mx_scan_kind kind, int axis, bool reverse, bool inclusive,
                  mx_stream s) {
  if (!a) return NULL;
  if (axis < 0 || axis >= a->ndim)
    return mx_fail(MX_EINDEX, "[scan] Axis %d is out of bounds for array with %d dimensions.",
                   axis, a->ndim);
  mx_p_scan p = {kind, axis, reverse, inclusive};
  return mx_op_make1(MX_PRIM_SCAN, &p, s, 1, &a, a->dtype, a->ndim, a->shape);
}

/* Resolves the axis (flattening for None), applies the dtype rule `cast`, then scans. */
typedef mx_dtype (*scan_dtype_fn)(mx_dtype in);

static mx_array *scan_public(const char *name, mx_scan_kind kind, mx_array *a, const int *axis,
                             int naxis, bool reverse, bool inclusive, scan_dtype_fn cast,
                             mx_stream s) {
  if (!a) return NULL;
  if (naxis >= 0 && naxis != 1)
    return mx_fail(MX_ETYPE, "[%s] Expected an integer axis or None, got %d axes.", name, naxis);
  int ax = 0;
  if (naxis == 1) {
    ax = axis[0];
    if (ax < -a->ndim || ax >= a->ndim)
      return mx_fail(MX_EINDEX, "[%s] Axis %d is out of bounds for array with %d dimensions.",
                     name, ax, a->ndim);
    if (ax < 0) ax += a->ndim;
  }
  MX_SCOPE_BEGIN;
  mx_array *x = a;
  if (naxis < 0) {
    int32_t flat = (int32_t)a->size;
    x = mx_reshape(a, &flat, 1, s);
  }
  if (x) x = mx_astype(x, cast(x->dtype), s);
  mx_array *r = mx_scan(x, kind, ax, reverse, inclusive, s);
  MX_SCOPE_RETURN(r);
}

static mx_dtype keep_dtype(mx_dtype t) { return t; }
static mx_dtype sum_scan_dtype(mx_dtype t) { return t == MX_BOOL ? MX_INT32 : t; }

mx_array *mx_cumsum(mx_array *a, const int *axis, int naxis, bool reverse, bool inclusive,
                    bool dtype_has, mx_dtype dtype, mx_stream s) {
  if (!a) return NULL;
  MX_SCOPE_BEGIN;
  mx_array *x = dtype_has ? mx_astype(a, dtype, s) : a;
  mx_array *r = scan_public("cumsum", MX_SCAN_SUM, x, axis, naxis, reverse, inclusive,
                            sum_scan_dtype, s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_cumprod(mx_array *a, const int *axis, int naxis, bool reverse, bool inclusive,
                     bool dtype_has, mx_dtype dtype, mx_stream s) {
  if (!a) return NULL;
  MX_SCOPE_BEGIN;
  mx_array *x = dtype_has ? mx_astype(a, dtype, s) : a;
  mx_array *r = scan_public("cumprod", MX_SCAN_PROD, x, axis, naxis, reverse, inclusive,
                            keep_dtype, s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_cummax(mx_array *a, const int *axis, int naxis, bool reverse, bool inclusive,
                    mx_stream s) {
  return scan_public("cummax", MX_SCAN_MAX, a, axis, naxis, reverse, inclusive, keep_dtype, s);
}

mx_array *mx_cummin(mx_array *a, const int *axis, int naxis, bool reverse, bool inclusive,
                    mx_stream s) {
  return scan_public("cummin", MX_SCAN_MIN, a, axis, naxis, reverse, inclusive, keep_dtype, s);
}

mx_array *mx_logcumsumexp(mx_array *a, const int *axis, int naxis, bool reverse,
                          bool inclusive, mx_stream s) {
  return scan_public("logcumsumexp", MX_SCAN_LOGADDEXP, a, axis, naxis, reverse, inclusive,
                     mx_at_least_float, s);
}
