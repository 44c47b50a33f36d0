/* slice_update.c: the SliceUpdate primitive on the CPU: out = src with the strided region
 * [start:stop:strides] replaced by update (broadcast to the region). When out took over
 * src's buffer (donation, DESIGN section 5) only the region is written; otherwise src is
 * copied first. Uses the strided copy of copy.c. */
#include "cpu.h"

/* Elements of start:stop:step along one dim (step != 0). */
static int64_t slice_count(int64_t start, int64_t stop, int64_t step) {
  if (step > 0) return stop > start ? (stop - start + step - 1) / step : 0;
  return start > stop ? (start - stop - step - 1) / -step : 0;
}

int mx_cpu_slice_update(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                        int n_out) {
  const mx_p_slice_update *p = (const mx_p_slice_update *)ctx->params;
  if (n_in != 2 || n_out != 1 || !p)
    return mx_fail_int(MX_EINVAL, "[slice_update] Expected 2 inputs, 1 output and parameters.");
  const mx_tensor *src = &in[0], *upd = &in[1];
  int nd = out->ndim;
  if (src->ndim != nd || src->size != out->size || p->start.n != nd || p->stop.n != nd ||
      p->strides.n != nd)
    return mx_fail_int(MX_EINVAL, "[slice_update] Parameters do not match the dimensions.");
  /* Donation may have handed out the update's buffer (input 0 was not donatable): keep a
   * private copy of the update before src is copied over it. */
  mx_tensor upd_copy;
  void *upd_mem = NULL;
  if (upd->data == out->data && src->data != out->data && upd->size > 0) {
    size_t es = (size_t)mx_dtype_size(upd->dtype);
    size_t nbytes = (size_t)upd->size * es + (size_t)(upd->ndim > 0 ? upd->ndim : 1) * sizeof(int64_t);
    if (!(upd_mem = malloc(nbytes))) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", nbytes);
    int64_t *st = (int64_t *)upd_mem;
    int64_t acc = 1;
    for (int d = upd->ndim - 1; d >= 0; d--) {
      st[d] = acc;
      acc *= upd->shape[d];
    }
    upd_copy = *upd;
    upd_copy.strides = st;
    upd_copy.data = (char *)upd_mem + (size_t)(upd->ndim > 0 ? upd->ndim : 1) * sizeof(int64_t);
    if (mx_cpu_copy_strided(upd, &upd_copy) < 0) {
      free(upd_mem);
      return -1;
    }
    upd = &upd_copy;
  }
  if (out->data != src->data || out->dtype != src->dtype)
    if (mx_cpu_copy_strided(src, out) < 0) {
      free(upd_mem);
      return -1;
    }

  /* The region as a view of out. */
  size_t bytes = (size_t)(nd > 0 ? nd : 1) * (sizeof(int32_t) + sizeof(int64_t));
  char *mem = (char *)malloc(bytes);
  if (!mem) {
    free(upd_mem);
    return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", bytes);
  }
  int64_t *rstr = (int64_t *)mem;
  int32_t *rshape = (int32_t *)(rstr + (nd > 0 ? nd : 1));
  int64_t off = 0, rsize = 1;
  int rc = 0;
  for (int d = 0; d < nd && rc == 0; d++) {
    int64_t st = p->start.v[d], step = p->strides.v[d];
    if (step == 0) {
      rc = mx_fail_int(MX_EINVAL, "[slice_update] Slice step cannot be zero.");
      break;
    }
    int64_t n = slice_count(st, p->stop.v[d], step);
    if (n > 0 && (st < 0 || st >= out->shape[d] || st + (n - 1) * step < 0 ||
                  st + (n - 1) * step >= out->shape[d]))
      rc = mx_fail_int(MX_EINDEX, "[slice_update] Slice of dim %d is out of bounds.", d);
    rshape[d] = (int32_t)n;
    rstr[d] = out->strides[d] * step;
    off += n > 0 ? st * out->strides[d] : 0;
    rsize *= n;
  }
  if (rc == 0 && rsize > 0) {
    mx_tensor region = *out;
    region.data = mx_cpu_at(out, off);
    region.shape = rshape;
    region.strides = rstr;
    region.size = rsize;
    region.flags = 0;
    mx_cpu_bstrides bu;
    rc = mx_cpu_bstrides_init(&bu, "slice_update", upd, &region);
    if (rc == 0) {
      mx_tensor u = region;
      u.data = upd->data;
      u.dtype = upd->dtype;
      u.strides = bu.s;
      rc = mx_cpu_copy_strided(&u, &region);
      mx_cpu_bstrides_free(&bu);
    }
  }
  free(mem);
  free(upd_mem);
  return rc;
}
