/* attention_bench.cu: workbench of src/backend/cuda/attention.cuh: validates the prefill and
 * decode kernels (every mask mode, GQA, sinks, tails, strided rows) against a float64 CPU
 * reference on sampled rows, then times their variants. Build and run on a GPU machine:
 *   nvcc -O3 -std=c++17 -arch=sm_90 benchmarks/attention_bench.cu -o /tmp/ab && /tmp/ab */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "../src/backend/cuda/attention.cuh"

#define CK(x)                                                                        \
  do {                                                                               \
    cudaError_t e_ = (x);                                                            \
    if (e_ != cudaSuccess) {                                                         \
      fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      exit(1);                                                                       \
    }                                                                                \
  } while (0)

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static double urand() {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (double)(g_rng >> 11) / 9007199254740992.0;
}
static double nrand() {
  double u = urand() + 1e-12, v = urand();
  return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static uint16_t to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}
static float from_bf16(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static uint16_t to_f16(float f) { /* finite normal range only: the bench's data */
  uint32_t u;
  memcpy(&u, &f, 4);
  uint32_t s = (u >> 16) & 0x8000u;
  int e = (int)((u >> 23) & 0xff) - 127 + 15;
  uint32_t m = u & 0x7fffffu;
  if (e <= 0) return (uint16_t)s;
  uint32_t r = ((uint32_t)e << 10) | (m >> 13);
  uint32_t rem = m & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) r++;
  return (uint16_t)(s | r);
}
static float from_f16(uint16_t h) {
  uint32_t s = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu;
  uint32_t u;
  if (e == 0) {
    float f = ldexpf((float)m, -24);
    return s ? -f : f;
  }
  if (e == 31) u = s | 0x7f800000u | (m << 13);
  else u = s | ((e - 15 + 127) << 23) | (m << 13);
  float f;
  memcpy(&f, &u, 4);
  return f;
}

struct tens { /* host copy + device buffer of a (B, H, T, E) tensor in a (B, T, H, E) or
                 (B, H, T, E) layout */
  std::vector<uint16_t> h;
  void *d = nullptr;
  int64_t B, H, T, E, st[3];
  bool bf;
  float at(int64_t b, int64_t hh, int64_t t, int64_t e) const {
    uint16_t u = h[b * st[0] + hh * st[1] + t * st[2] + e];
    return bf ? from_bf16(u) : from_f16(u);
  }
};

static tens make(int64_t B, int64_t H, int64_t T, int64_t E, bool bf, bool bthe) {
  tens t;
  t.B = B; t.H = H; t.T = T; t.E = E; t.bf = bf;
  if (bthe) { t.st[0] = T * H * E; t.st[1] = E; t.st[2] = H * E; }
  else { t.st[0] = H * T * E; t.st[1] = T * E; t.st[2] = E; }
  size_t n = (size_t)(B * H * T * E);
  t.h.resize(n);
  for (size_t i = 0; i < n; i++) {
    float f = (float)nrand();
    t.h[i] = bf ? to_bf16(f) : to_f16(f);
  }
  CK(cudaMalloc(&t.d, n * 2));
  CK(cudaMemcpy(t.d, t.h.data(), n * 2, cudaMemcpyHostToDevice));
  return t;
}

struct mcase {
  int mode;         /* ATT_PLAIN / ATT_CAUSAL / ATT_ARRAY */
  int mkind;        /* ATT_MASK_BOOL or ATT_MASK_F32 */
  bool sinks;
};

struct setup {
  tens q, k, v;
  std::vector<uint8_t> mb;   /* (B, 1, TQ, TK) */
  std::vector<float> mf;
  std::vector<double> sk;
  void *dm = nullptr, *dout = nullptr;
  double *dsk = nullptr;
  att_args a;
};

static void build(setup &s, int64_t B, int64_t NQ, int64_t NKV, int64_t TQ, int64_t TK,
                  int64_t D, int64_t DV, bool bf, bool bthe, mcase mc, float masked) {
  s.q = make(B, NQ, TQ, D, bf, bthe);
  s.k = make(B, NKV, TK, D, bf, bthe);
  s.v = make(B, NKV, TK, DV, bf, bthe);
  memset(&s.a, 0, sizeof(s.a));
  att_args &a = s.a;
  a.q = s.q.d; a.k = s.k.d; a.v = s.v.d;
  for (int i = 0; i < 3; i++) { a.qs[i] = s.q.st[i]; a.ks[i] = s.k.st[i]; a.vs[i] = s.v.st[i]; }
  a.B = B; a.NQ = NQ; a.NKV = NKV; a.TQ = TQ; a.TK = TK; a.D = D; a.DV = DV;
  a.scale = (float)(1.0 / sqrt((double)D));
  a.masked = masked;
  a.causal = mc.mode == ATT_CAUSAL;
  if (mc.mode == ATT_ARRAY) {
    size_t n = (size_t)(B * TQ * TK);
    a.ms[0] = TQ * TK; a.ms[1] = 0; a.ms[2] = TK; a.ms[3] = 1;
    a.mkind = mc.mkind;
    if (mc.mkind == ATT_MASK_BOOL) {
      s.mb.resize(n);
      for (size_t i = 0; i < n; i++) s.mb[i] = urand() > 0.3;
      for (int64_t j = 0; j < TK; j++) s.mb[(size_t)(1 % TQ) * TK + j] = 0; /* a hidden row */
      CK(cudaMalloc(&s.dm, n));
      CK(cudaMemcpy(s.dm, s.mb.data(), n, cudaMemcpyHostToDevice));
    } else {
      s.mf.resize(n);
      for (size_t i = 0; i < n; i++) s.mf[i] = urand() < 0.2 ? -INFINITY : (float)nrand();
      CK(cudaMalloc(&s.dm, n * 4));
      CK(cudaMemcpy(s.dm, s.mf.data(), n * 4, cudaMemcpyHostToDevice));
    }
    a.mask = s.dm;
  }
  if (mc.sinks) {
    s.sk.resize(NQ);
    for (auto &x : s.sk) x = nrand();
    CK(cudaMalloc(&s.dsk, NQ * 8));
    CK(cudaMemcpy(s.dsk, s.sk.data(), NQ * 8, cudaMemcpyHostToDevice));
    a.sinks = s.dsk;
  }
  CK(cudaMalloc(&s.dout, (size_t)(B * NQ * TQ * DV) * 2));
  CK(cudaMemset(s.dout, 0xff, (size_t)(B * NQ * TQ * DV) * 2));
  a.out = s.dout;
}

/* float64 reference of row (b, h, i) into o (DV) */
static void ref_row(const setup &s, int64_t b, int64_t h, int64_t i, double *o) {
  const att_args &a = s.a;
  int64_t hk = h / (a.NQ / a.NKV);
  std::vector<double> sc(a.TK);
  double sf = (double)a.scale;
  for (int64_t j = 0; j < a.TK; j++) {
    double d = 0;
    for (int64_t e = 0; e < a.D; e++) d += (double)s.q.at(b, h, i, e) * s.k.at(b, hk, j, e);
    d *= sf;
    if (a.causal && j > i + a.TK - a.TQ) d = a.masked;
    if (a.mask) {
      size_t mo = (size_t)(b * a.TQ * a.TK + i * a.TK + j);
      if (a.mkind == ATT_MASK_BOOL) d = s.mb[mo] ? d : a.masked;
      else d += s.mf[mo];
    }
    sc[j] = d;
  }
  double m = -INFINITY;
  for (double x : sc) m = x > m ? x : m;
  if (a.sinks) m = a.sinks ? (s.sk[h] > m ? s.sk[h] : m) : m;
  double l = 0;
  for (int64_t e = 0; e < a.DV; e++) o[e] = 0;
  for (int64_t j = 0; j < a.TK; j++) {
    double p = exp(sc[j] - m);
    l += p;
    if (p != 0)
      for (int64_t e = 0; e < a.DV; e++) o[e] += p * s.v.at(b, hk, j, e);
  }
  if (a.sinks) l += exp(s.sk[h] - m);
  for (int64_t e = 0; e < a.DV; e++) o[e] /= l;
}

/* max |got - ref| / max(1, max |ref|) over sampled rows; NaN rows must match */
static double check(const setup &s, int nsample) {
  const att_args &a = s.a;
  size_t n = (size_t)(a.B * a.NQ * a.TQ * a.DV);
  std::vector<uint16_t> got(n);
  CK(cudaMemcpy(got.data(), s.dout, n * 2, cudaMemcpyDeviceToHost));
  int64_t rows = a.B * a.NQ * a.TQ;
  double err = 0, mref = 1;
  std::vector<double> o(a.DV);
  for (int t = 0; t < nsample; t++) {
    int64_t r = t < 4 ? (t * (rows - 1)) / 3 : (int64_t)(urand() * rows) % rows;
    if (t == 4) r = 1 % a.TQ; /* a hidden row when the mask has one */
    int64_t i = r % a.TQ, h = (r / a.TQ) % a.NQ, b = r / (a.TQ * a.NQ);
    ref_row(s, b, h, i, o.data());
    for (int64_t e = 0; e < a.DV; e++) {
      uint16_t u = got[(size_t)(r * a.DV + e)];
      double g = s.q.bf ? from_bf16(u) : from_f16(u);
      if (isnan(o[e]) || isnan(g)) {
        if (isnan(o[e]) != isnan(g)) err = INFINITY;
        continue;
      }
      err = fmax(err, fabs(g - o[e]));
      mref = fmax(mref, fabs(o[e]));
    }
  }
  return err / mref;
}

static void release(setup &s) {
  cudaFree(s.q.d); cudaFree(s.k.d); cudaFree(s.v.d);
  if (s.dm) cudaFree(s.dm);
  if (s.dsk) cudaFree(s.dsk);
  cudaFree(s.dout);
}

template <class F>
static double time_us(F f, int reps) {
  for (int i = 0; i < 3; i++) f();
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  CK(cudaEventRecord(e0));
  for (int i = 0; i < reps; i++) f();
  CK(cudaEventRecord(e1));
  CK(cudaEventSynchronize(e1));
  float ms;
  CK(cudaEventElapsedTime(&ms, e0, e1));
  return ms * 1e3 / reps;
}

static int g_fail = 0;
static void verdict(const char *what, double err, bool bf) {
  double tol = bf ? 1.5e-2 : 3e-3;
  bool ok = err <= tol;
  if (!ok) g_fail++;
  printf("%-64s err %.2e %s\n", what, err, ok ? "ok" : "FAIL");
}

typedef cudaError_t (*pf_fn)(const att_args &, int, cudaStream_t);
struct pcfg {
  const char *nm;
  pf_fn f[2][2]; /* [bfloat16][D == 128] */
};
#define PCFG(NW, MI, ST)                                                                  \
  {"nw" #NW " mi" #MI " st" #ST,                                                          \
   {{att_flash_launch_k<false, 64, NW, MI, ST>, att_flash_launch_k<false, 128, NW, MI, ST>}, \
    {att_flash_launch_k<true, 64, NW, MI, ST>, att_flash_launch_k<true, 128, NW, MI, ST>}}}
static const pcfg pcfgs[] = {PCFG(4, 1, 3), PCFG(4, 2, 2)};

/* The read bound: every block sums its share of n 16-byte words. */
__global__ void read_all(const uint4 *x, size_t n, unsigned *sink) {
  unsigned acc = 0;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    const uint4 w = __ldcs(x + i);
    acc ^= w.x ^ w.y ^ w.z ^ w.w;
  }
  if (acc == 0x12345678u) sink[blockIdx.x] = acc;
}

typedef cudaError_t (*dec_fn)(const att_args &, int64_t, int, cudaStream_t);

static float *g_part;
static unsigned *g_ticket;

static cudaError_t dec_launch(dec_fn f, att_args &a, int ns, bool reset = true) {
  a.chunk = (a.TK + ns - 1) / ns;
  ns = (int)((a.TK + a.chunk - 1) / a.chunk);
  a.part = nullptr;
  a.ticket = nullptr;
  const int64_t rows = a.B * a.NQ * a.TQ;
  if (ns > 1) {
    a.part = g_part;
    a.ticket = g_ticket;
    if (reset) { /* the kernels zero their tickets again: timed runs skip this */
      cudaError_t e = cudaMemsetAsync(g_ticket, 0, sizeof(unsigned) * rows, 0);
      if (e != cudaSuccess) return e;
    }
  }
  return f(a, rows, ns, 0);
}

int main() {
  cudaDeviceProp pr;
  CK(cudaGetDeviceProperties(&pr, 0));
  printf("%s, %d SMs\n", pr.name, pr.multiProcessorCount);
  CK(cudaMalloc(&g_part, sizeof(float) << 22));
  CK(cudaMalloc(&g_ticket, sizeof(unsigned) << 12));
  const float HB = -3.3895313892515355e38f, HF = -65504.0f;
  char buf[256];

  /* ---------------- prefill validation */
  struct pcase { int64_t B, NQ, NKV, TQ, TK, D; bool bf, bthe; mcase mc; const char *nm; };
  const pcase pcs[] = {
      {1, 32, 32, 2048, 2048, 128, true, false, {ATT_CAUSAL, 0, false}, "causal 32x2048 d128"},
      {2, 8, 2, 300, 300, 64, false, false, {ATT_PLAIN, 0, true}, "gqa plain sinks d64"},
      {1, 4, 2, 100, 333, 128, true, true, {ATT_CAUSAL, 0, false}, "causal tq<tk bthe d128"},
      {1, 4, 4, 77, 150, 64, true, false, {ATT_ARRAY, ATT_MASK_BOOL, false}, "bool mask d64"},
      {2, 4, 1, 130, 97, 128, false, false, {ATT_ARRAY, ATT_MASK_F32, true}, "additive mask sinks d128"},
      {1, 2, 2, 5, 5, 128, false, true, {ATT_CAUSAL, 0, true}, "causal tiny sinks"},
      {1, 3, 3, 200, 64, 64, true, false, {ATT_PLAIN, 0, false}, "plain one key tile"},
  };
  for (const pcase &c : pcs) {
    for (const pcfg &pc : pcfgs) {
      setup s;
      build(s, c.B, c.NQ, c.NKV, c.TQ, c.TK, c.D, c.D, c.bf, c.bthe, c.mc, c.bf ? HB : HF);
      CK(pc.f[c.bf][c.D == 128](s.a, c.mc.mode, 0));
      CK(cudaDeviceSynchronize());
      snprintf(buf, sizeof buf, "prefill %s %s %s", pc.nm, c.nm, c.bf ? "bf16" : "f16");
      verdict(buf, check(s, 24), c.bf);
      release(s);
    }
  }

  /* ---------------- decode validation */
  struct dcase { int64_t B, NQ, NKV, TQ, TK, D, DV; bool bf, bthe; mcase mc; const char *nm; };
  const dcase dcs[] = {
      {1, 32, 32, 1, 4096, 128, 128, true, false, {ATT_PLAIN, 0, false}, "32x4096 d128"},
      {2, 8, 2, 3, 2333, 128, 64, false, true, {ATT_CAUSAL, 0, true}, "gqa causal sinks tq3"},
      {1, 4, 4, 2, 700, 64, 64, true, false, {ATT_ARRAY, ATT_MASK_BOOL, false}, "bool mask"},
      {1, 6, 3, 4, 2, 32, 32, true, false, {ATT_CAUSAL, 0, false}, "causal tq>tk"},
      {1, 2, 2, 1, 1100, 128, 128, false, false, {ATT_ARRAY, ATT_MASK_F32, true}, "additive sinks"},
  };
  struct dfn { dec_fn f[2]; const char *nm; };
  const dfn fns[] = {
      {{att_decode_launch_k<false, 4, 8>, att_decode_launch_k<true, 4, 8>}, "KU4 NW8"},
      {{att_decode_launch_k<false, 8, 4>, att_decode_launch_k<true, 8, 4>}, "KU8 NW4"}};
  for (const dcase &c : dcs) {
    for (const dfn &fn : fns)
    for (int ns : {1, 3, 8, 16, 40}) {
      setup s;
      build(s, c.B, c.NQ, c.NKV, c.TQ, c.TK, c.D, c.DV, c.bf, c.bthe, c.mc, c.bf ? HB : HF);
      snprintf(buf, sizeof buf, "decode %s ns=%d %s %s", fn.nm, ns, c.nm, c.bf ? "bf16" : "f16");
      cudaError_t e = dec_launch(fn.f[c.bf], s.a, ns);
      if (e != cudaSuccess) {
        printf("%-64s launch: %s\n", buf, cudaGetErrorString(e));
        g_fail++;
        release(s);
        continue;
      }
      CK(cudaDeviceSynchronize());
      verdict(buf, check(s, 24), c.bf);
      release(s);
    }
  }

  /* ---------------- bandwidth */
  double bw;
  {
    void *x, *y;
    size_t n = 1ull << 30;
    CK(cudaMalloc(&x, n));
    CK(cudaMalloc(&y, n));
    double us = time_us([&] { CK(cudaMemcpyAsync(y, x, n, cudaMemcpyDeviceToDevice, 0)); }, 10);
    bw = 2.0 * n / (us * 1e-6);
    cudaFree(x);
    cudaFree(y);
    printf("copy bandwidth %.2f TB/s\n", bw / 1e12);
  }
  {
    const size_t n = 32ull * 4096 * 128 * 2 * 2; /* the decode case's K and V */
    void *x;
    unsigned *sink;
    CK(cudaMalloc(&x, n));
    CK(cudaMemset(x, 0, n));
    CK(cudaMalloc(&sink, sizeof(unsigned) << 16));
    for (int nb : {264, 528, 1056}) {
      double us = time_us([&] { read_all<<<nb, 256>>>((const uint4 *)x, n / 16, sink); }, 200);
      printf("read %zu MB, %4d blocks: %5.1f us = %.2f TB/s\n", n >> 20, nb, us, n / us * 1e-6);
    }
    cudaFree(x);
    cudaFree(sink);
  }

  /* ---------------- decode timing */
  printf("\n-- decode bf16 H=32 T=4096 D=128 (bound %.1f us)\n",
         32.0 * 4096 * 128 * 2 * 2 / bw * 1e6);
  {
    setup s;
    build(s, 1, 32, 32, 1, 4096, 128, 128, true, false, {ATT_PLAIN, 0, false}, HB);
    struct dv { dec_fn f; std::vector<int> nss; const char *nm; };
    const dv dvs[] = {{att_decode_launch_k<true, 4, 4>, {16, 24, 32}, "KU4 NW4"},
                      {att_decode_launch_k<true, 4, 8>, {8, 12, 16}, "KU4 NW8"}};
    double bound = 32.0 * 4096 * 128 * 2 * 2 / bw * 1e6;
    for (const dv &d : dvs)
      for (int ns : d.nss) {
        cudaError_t e = dec_launch(d.f, s.a, ns);
        if (e != cudaSuccess) {
          printf("decode %-18s ns=%2d  launch: %s\n", d.nm, ns, cudaGetErrorString(e));
          continue;
        }
        double us = time_us([&] { CK(dec_launch(d.f, s.a, ns, false)); }, 200);
        CK(cudaDeviceSynchronize());
        double err = check(s, 6);
        printf("decode %-18s ns=%2d  %7.1f us  %5.1f%% of bound  err %.1e\n", d.nm, ns, us,
               100 * bound / us, err);
      }
    release(s);
  }

  /* ---------------- prefill timing */
  printf("\n-- prefill\n");
  struct tcase { int64_t H, T, D; int mode; bool bf; int mkind; };
  const tcase tcs[] = {{32, 2048, 128, ATT_CAUSAL, true, 0}, {32, 2048, 128, ATT_PLAIN, true, 0},
                       {32, 2048, 64, ATT_CAUSAL, true, 0}, {32, 4096, 128, ATT_CAUSAL, false, 0},
                       {32, 2048, 128, ATT_ARRAY, true, ATT_MASK_BOOL},
                       {32, 2048, 128, ATT_ARRAY, true, ATT_MASK_F32}};
  for (const tcase &c : tcs) {
    setup s;
    build(s, 1, c.H, c.H, c.T, c.T, c.D, c.D, c.bf, false,
          {c.mode, c.mkind, false}, c.bf ? HB : HF);
    double fl = 4.0 * c.H * c.D * (double)c.T * c.T * (c.mode == ATT_CAUSAL ? 0.5 : 1.0);
    for (const pcfg &pc : pcfgs) {
      double us = time_us([&] { CK(pc.f[c.bf][c.D == 128](s.a, c.mode, 0)); }, 20);
      printf("prefill %-8s H=%lld T=%lld D=%lld %s %-12s %8.1f us  %6.1f TFLOP/s\n",
             c.mode == ATT_CAUSAL ? "causal"
             : c.mode == ATT_ARRAY ? (c.mkind == ATT_MASK_BOOL ? "boolmask" : "f32mask")
                                   : "plain",
             (long long)c.H, (long long)c.T, (long long)c.D, c.bf ? "bf16" : "f16", pc.nm, us,
             fl / us * 1e-6);
    }
    release(s);
  }
  printf("\n%s: %d failures\n", g_fail ? "FAIL" : "PASS", g_fail);
  return g_fail ? 1 : 0;
}
