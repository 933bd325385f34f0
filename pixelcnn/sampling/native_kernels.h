// The small kernels of the native pixel step (native_pixel.cpp): torch's BLAS product as torch's
// addmm calls it, the gate with torch's SLEEF functions, the Gumbel-max, log softmax at a value,
// and a broadcast bias over padded positions.
#pragma once

#include <torch/extension.h>

#include <cmath>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const float* alpha,
                       const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
                       const int* ldc);
#if defined(__AVX512F__)
extern "C" __m512 Sleef_tanhf16_u10(__m512);
extern "C" __m512 Sleef_expf16_u10(__m512);
#endif

namespace {

// C (m x n, row-major, ldc) = beta * C + A (m x k, lda) B (k x n, ldb), as torch.addmm(out=C)
// does it: the column-major product C' = B' A', leading dimensions normalised as cpublas does.
void gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc) {
  int cm = static_cast<int>(n), cn = static_cast<int>(m), ck = static_cast<int>(k);
  int la = static_cast<int>(ldb), lb = static_cast<int>(lda), lc = static_cast<int>(ldc);
  if (cn == 1) {
    lc = cm;
    lb = ck;
  }
  if (ck == 1) la = cm;
  const float one = 1.0f;
  sgemm_("N", "N", &cm, &cn, &ck, &one, b, &la, a, &lb, &beta, c, &lc);
}

// Copy `rows` rows of `cols` floats between two strided matrices.
void copy_rows(int64_t rows, int64_t cols, const float* from, int64_t from_ld, float* to, int64_t to_ld) {
  for (int64_t i = 0; i < rows; ++i) std::memcpy(to + i * to_ld, from + i * from_ld, cols * sizeof(float));
}

// out[j] = tanh(pre[j]) * sigmoid(pre[half + j]), j < half.
void gate(const float* pre, int64_t half, float* out) {
  int64_t j = 0;
#if defined(__AVX512F__)
  const __m512 one = _mm512_set1_ps(1.0f);
  for (; j + 16 <= half; j += 16) {
    __m512 t = Sleef_tanhf16_u10(_mm512_loadu_ps(pre + j));
    __m512 e = Sleef_expf16_u10(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_loadu_ps(pre + half + j)));
    _mm512_storeu_ps(out + j, _mm512_mul_ps(t, _mm512_div_ps(one, _mm512_add_ps(e, one))));
  }
#endif
  for (; j < half; ++j) out[j] = std::tanh(pre[j]) * (1.0f / (1.0f + std::exp(-pre[half + j])));
}

float* f32(const at::Tensor& t) { return t.data_ptr<float>(); }

// argmax_j (c[j] / t + g[j]), the first of equals (as torch.argmax), over `levels` values.
int64_t gumbel_max(const float* c, const float* g, float t, int64_t levels) {
#if defined(__AVX512F__)
  if (levels % 16 == 0) {  // the largest value, then where it first is
    const __m512 tv = _mm512_set1_ps(t);
    __m512 top = _mm512_set1_ps(-INFINITY);
    for (int64_t j = 0; j < levels; j += 16)
      top = _mm512_max_ps(top, _mm512_add_ps(_mm512_div_ps(_mm512_loadu_ps(c + j), tv), _mm512_loadu_ps(g + j)));
    const __m512 largest = _mm512_set1_ps(_mm512_reduce_max_ps(top));
    for (int64_t j = 0; j < levels; j += 16) {
      const __mmask16 at = _mm512_cmpeq_ps_mask(_mm512_add_ps(_mm512_div_ps(_mm512_loadu_ps(c + j), tv), _mm512_loadu_ps(g + j)), largest);
      if (at) return j + __builtin_ctz(at);
    }
  }
#endif
  int64_t best = 0;
  float top = c[0] / t + g[0];
  for (int64_t j = 1; j < levels; ++j) {
    const float v = c[j] / t + g[j];
    if (v > top) {
      top = v;
      best = j;
    }
  }
  return best;
}

// log softmax(l)[v], over `levels` values.
float log_softmax_at(const float* l, int64_t v, int64_t levels) {
  float top = l[0];
  for (int64_t j = 1; j < levels; ++j) top = std::max(top, l[j]);
  float sum = 0.0f;
  int64_t j = 0;
#if defined(__AVX512F__)
  __m512 sums = _mm512_setzero_ps();
  for (; j + 16 <= levels; j += 16) sums = _mm512_add_ps(sums, Sleef_expf16_u10(_mm512_sub_ps(_mm512_loadu_ps(l + j), _mm512_set1_ps(top))));
  sum = _mm512_reduce_add_ps(sums);
#endif
  for (; j < levels; ++j) sum += std::exp(l[j] - top);
  return l[v] - top - std::log(sum);
}



// Positions [p0, p1) of a padded (n * (W + 2 pad), 2h) buffer += bias where they lie in the image
// (x < W), broadcast from (n or 1, W or 1, 2h).
void add_bias(float* dst, int64_t p0, int64_t p1, int64_t width, int64_t channels, int64_t padded, const at::Tensor& bias) {
  const float* b = bias.data_ptr<float>();
  const int64_t si = bias.size(0) == 1 ? 0 : bias.stride(0), sx = bias.size(1) == 1 ? 0 : bias.stride(1), sj = bias.stride(2);
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t i = p / padded, x = p % padded;
    if (x >= width) continue;
    float* d = dst + p * channels;
    const float* from = b + i * si + x * sx;
    for (int64_t j = 0; j < channels; ++j) d[j] += from[j * sj];
  }
}

}  // namespace
