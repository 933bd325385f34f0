// One pixel of the cached sampler (pixelcnn/sampling/cohort.py, `Cached`) in one native call:
// every gated layer's horizontal step, the head and the draw (guidance, temperature, the
// Gumbel-max with the request's own noise, given pixels, the bits each image's values cost, the
// logits hooks), for every image of a batch, in float32.
//
// Once a row, `next_row` runs the vertical stack over the finished row (as `advance_vertical`),
// in chunks of positions that stay in the cache, shared among torch's threads.
//
// The arithmetic is the Python step's, in the same order: the matrix products go to the BLAS that
// torch's own addmm calls (sgemm_, with the arguments addmm passes it), the gates to the SLEEF
// functions torch's vectorised kernels use (native_kernels.h). The buffers are the Python
// sampler's own tensors (`GatedLayerStep`, `Head`, `Drawer`).

#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <vector>

#include "native_kernels.h"

namespace {

// One gated layer's buffers and per-colour-group weights (a `GatedLayerStep`'s).
struct Layer {
  at::Tensor row, row_bias;                          // (n, W + pad, in), (n * (W + 2 pad), 2h)
  std::vector<at::Tensor> horizontal, pre, residual;  // per group: (taps*in, 2g), (n, 2g), (1 + hi, g) or none
  at::Tensor column, vertical_pre, link;             // (n, W + 2 pad, taps, in), (n * (W + 2 pad), 2h), (2h, 2h)
  std::vector<std::vector<at::Tensor>> vertical;     // [phase][tap] (taps*in, 2h)
  // A spatial map's conditioning, made here chunk by chunk: (M, 4h), (4h), and the vector's (n, 4h) or undefined.
  at::Tensor map_weight, map_bias, vector_bias;
  int64_t in, pad, width;
  bool first;
};

}  // namespace

class NativePixel {
 public:
  NativePixel(std::vector<at::Tensor> rows, std::vector<at::Tensor> row_biases, std::vector<std::vector<at::Tensor>> horizontal,
              std::vector<std::vector<at::Tensor>> pre, std::vector<std::vector<at::Tensor>> residual, std::vector<at::Tensor> columns,
              std::vector<at::Tensor> vertical_pre, std::vector<at::Tensor> links, std::vector<std::vector<std::vector<at::Tensor>>> vertical,
              std::vector<std::optional<at::Tensor>> map_weights, std::vector<std::optional<at::Tensor>> map_biases,
              std::vector<std::optional<at::Tensor>> vector_biases, std::optional<at::Tensor> cond_map, std::vector<int64_t> bounds,
              at::Tensor gated, std::vector<at::Tensor> skip, std::vector<at::Tensor> hidden, std::vector<at::Tensor> hidden_b,
              std::vector<at::Tensor> out, at::Tensor out_b, at::Tensor intensity,
              // the drawer's
              int64_t images, at::Tensor row_images, at::Tensor second, at::Tensor guided, at::Tensor scale, at::Tensor temperature,
              std::optional<at::Tensor> known, std::optional<at::Tensor> known_mask, at::Tensor canvas, std::optional<at::Tensor> kept,
              at::Tensor nats, bool counting, std::vector<int64_t> record_bounds, std::vector<at::Tensor> record_first,
              std::vector<at::Tensor> record_others, std::vector<at::Tensor> record_count, std::vector<int64_t> hook_bounds,
              std::vector<py::object> hooks, int64_t row_grain, int64_t chunk_bytes)
      : cond_map_(std::move(cond_map)), bounds_(std::move(bounds)), gated_(std::move(gated)), skip_(std::move(skip)), hidden_(std::move(hidden)),
        hidden_b_(std::move(hidden_b)), out_(std::move(out)), out_b_(std::move(out_b)), intensity_(std::move(intensity)),
        images_(images), row_images_(std::move(row_images)), second_(std::move(second)), guided_(std::move(guided)),
        scale_(std::move(scale)), temperature_(std::move(temperature)), known_(std::move(known)), known_mask_(std::move(known_mask)),
        canvas_(std::move(canvas)), kept_(std::move(kept)), nats_(std::move(nats)), counting_(counting),
        record_bounds_(std::move(record_bounds)), record_first_(std::move(record_first)), record_others_(std::move(record_others)),
        record_count_(std::move(record_count)), hook_bounds_(std::move(hook_bounds)), hooks_(std::move(hooks)),
        row_grain_(row_grain), chunk_bytes_(chunk_bytes) {
    for (size_t k = 0; k < rows.size(); ++k) {
      Layer layer;
      layer.row = rows[k];
      layer.row_bias = row_biases[k];
      layer.horizontal = horizontal[k];
      layer.pre = pre[k];
      layer.residual = residual[k];
      layer.column = columns[k];
      layer.vertical_pre = vertical_pre[k];
      layer.link = links[k];
      layer.vertical = vertical[k];
      if (map_weights[k]) {
        layer.map_weight = *map_weights[k];
        layer.map_bias = *map_biases[k];
        if (vector_biases[k]) layer.vector_bias = *vector_biases[k];
      }
      layer.in = rows[k].size(2);
      layer.width = canvas_.size(3);
      layer.pad = rows[k].size(1) - layer.width;
      layer.first = k == 0;
      layers_.push_back(std::move(layer));
    }
    n_ = gated_.size(0);
    hidden_channels_ = gated_.size(2) - 1;
    levels_ = out_[0].size(1);
    auto options = gated_.options();
    skips_ = at::zeros({n_, hidden_channels_}, options);
    relu_ = at::zeros({n_, hidden_channels_}, options);
    features_ = at::zeros({n_, hidden_channels_}, options);
    stacked_ = at::zeros({n_, static_cast<int64_t>(layers_.size()) * (1 + hidden_channels_)}, options);
    logits_ = at::zeros({n_, levels_}, options);
    chosen_ = at::zeros({images_, levels_}, options);
    values_ = at::zeros({images_}, canvas_.options());
  }

  // Draw sub-pixels (channel, row, col) of every channel: noise (images, C, W, levels), the row's Gumbel noise.
  void pixel(int64_t row, int64_t col, const at::Tensor& noise) {
    TORCH_CHECK(noise.is_contiguous() && noise.scalar_type() == at::kFloat && noise.size(0) == images_, "noise must be (images, C, W, levels) float32");
    const int64_t channels = canvas_.size(1);
    for (int64_t channel = 0; channel < channels; ++channel) {
      {
        py::gil_scoped_release free;  // the page's threads go on while the arithmetic runs
        // Batch rows are independent until the draw: torch's threads take a share of them each.
        at::parallel_for(0, n_, row_grain_, [&](int64_t begin, int64_t end) {
          for (size_t k = 0; k < layers_.size(); ++k) layer_step(k, channel, col, begin, end);
          head(channel, begin, end);
        });
        choose(channel);
      }
      call_hooks(channel, row, col);
      py::gil_scoped_release free;
      draw(channel, row, col, noise);
    }
  }

  // The vertical stack over the finished image `row` (as `advance_vertical`): each layer's
  // vertical pre-activations over its ring of input rows, its biases (`biases[2k]`: this row's
  // vertical ones, `biases[2k + 1]`: the next row's horizontal ones, (n or 1, W or 1, 2h) each), the
  // next row's horizontal bias, and the gate into the layer above's ring.
  void next_row(int64_t row, std::vector<at::Tensor> biases) {  // a spatial map's layers: made here, not given
    py::gil_scoped_release free;
    Layer& bottom = layers_[0];
    const int64_t width = bottom.width;
    {  // the finished image row, already scaled, into the first layer's ring
      const int64_t taps = bottom.pad + 1, in = bottom.in, padded = width + 2 * bottom.pad;
      const float* from = f32(bottom.row) + bottom.pad * in;
      float* to = f32(bottom.column) + (bottom.pad * taps + row % taps) * in;
      for (int64_t i = 0; i < n_; ++i)
        for (int64_t x = 0; x < width; ++x)
          std::memcpy(to + (i * padded + x) * taps * in, from + (i * bottom.row.size(1) + x) * in, in * sizeof(float));
    }
    for (size_t k = 0; k < layers_.size(); ++k) {
      Layer& layer = layers_[k];
      const int64_t taps = layer.pad + 1, in = layer.in, padded = width + 2 * layer.pad, h2 = layer.vertical_pre.size(1);
      const int64_t kernel = static_cast<int64_t>(layer.vertical[0].size()), positions = n_ * padded, valid = positions - (kernel - 1);
      const auto& weights = layer.vertical[((row - layer.pad) % taps + taps) % taps];
      const float* inputs = f32(layer.column);
      float* pre = f32(layer.vertical_pre);
      float* row_bias = f32(layer.row_bias);
      Layer* above = k + 1 < layers_.size() ? &layers_[k + 1] : nullptr;
      // Positions in chunks whose inputs and outputs stay in the core's cache through every tap
      // (a crowd's whole row is tens of MB), the chunks shared among torch's threads.
      const int64_t chunk = std::max<int64_t>(64, chunk_bytes_ / (4 * (taps * in + 2 * h2)));
      at::parallel_for(0, (valid + chunk - 1) / chunk, 1, [&](int64_t first_chunk, int64_t end_chunk) {
        for (int64_t c = first_chunk; c < end_chunk; ++c) {
          const int64_t p0 = c * chunk, p1 = std::min(valid, p0 + chunk), m = p1 - p0;
          for (int64_t tap = 0; tap < kernel; ++tap)
            gemm(m, h2, taps * in, inputs + (p0 + tap) * taps * in, taps * in, f32(weights[tap]), h2, tap ? 1.0f : 0.0f, pre + p0 * h2, h2);
          // half 0: this row's vertical biases; half 1: the next row's horizontal ones (a spatial map's made here)
          auto add_biases = [&](float* dst, int64_t from, int64_t to, int64_t half) {
            if (layer.map_weight.defined()) add_map_bias(layer, row + half, half, dst, from, to, padded);
            else add_bias(dst, from, to, width, h2, padded, biases[2 * k + half]);
          };
          const int64_t q1 = p1 == valid ? positions : p1;  // the last chunk's link covers the end's padding too, as torch.mm does
          add_biases(pre, p0, p1, 0);
          gemm(q1 - p0, h2, h2, pre + p0 * h2, h2, f32(layer.link), h2, 0.0f, row_bias + p0 * h2, h2);
          add_biases(row_bias, p0, q1, 1);
          if (above == nullptr) continue;  // nothing reads the last layer's vertical output
          const int64_t above_taps = above->pad + 1, above_padded = width + 2 * above->pad;
          float* to = f32(above->column) + (above->pad * above_taps + row % above_taps) * above->in;
          for (int64_t p = p0; p < p1; ++p) {
            const int64_t i = p / padded, x = p % padded;
            if (x < width) gate(pre + p * h2, h2 / 2, to + (i * above_padded + x) * above_taps * above->in);
          }
        }
      });
      std::memset(f32(layer.row), 0, layer.row.numel() * sizeof(float));
    }
  }

 private:
  // Positions [p0, p1) of dst (a padded (n * (W + 2 pad), 2h) buffer) += the spatial map's half `half`
  // (0: vertical, 1: horizontal) of the bias at image row `image_row` where they lie in the image, as
  // `GatedLayerStep.biases_at` makes it: (map bias + map row @ map weight) + the vector's bias. Made
  // for a chunk while it is in the cache, not for a whole batch's row (tens of MB a layer).
  void add_map_bias(const Layer& layer, int64_t image_row, int64_t half, float* dst, int64_t p0, int64_t p1, int64_t padded) {
    const at::Tensor& map = *cond_map_;
    const int64_t channels = map.size(3), height = map.size(1), width = map.size(2), h4 = layer.map_weight.size(1), h2 = h4 / 2, m = p1 - p0;
    std::vector<float> rows(m * channels, 0.0f), bias(m * h2);
    const float* from = f32(map);
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t i = p / padded, x = p % padded;
      if (x < width) std::memcpy(&rows[(p - p0) * channels], from + ((i * height + image_row) * width + x) * channels, channels * sizeof(float));
    }
    const float* constant = f32(layer.map_bias) + half * h2;
    for (int64_t r = 0; r < m; ++r) std::memcpy(&bias[r * h2], constant, h2 * sizeof(float));
    gemm(m, h2, channels, rows.data(), channels, f32(layer.map_weight) + half * h2, h4, 1.0f, bias.data(), h2);
    const float* vector = layer.vector_bias.defined() ? f32(layer.vector_bias) + half * h2 : nullptr;
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t i = p / padded, x = p % padded;
      if (x >= width) continue;
      float* d = dst + p * h2;
      const float* b = &bias[(p - p0) * h2];
      if (vector != nullptr) {
        for (int64_t j = 0; j < h2; ++j) d[j] += b[j] + vector[i * h4 + j];
      } else {
        for (int64_t j = 0; j < h2; ++j) d[j] += b[j];
      }
    }
  }

  // Layer k's colour group `channel` at column col, for batch rows [r0, r1): the horizontal
  // pre-activation, the gate into the stacked gated outputs, and the residual output into the next
  // layer's row.
  void layer_step(size_t k, int64_t channel, int64_t col, int64_t r0, int64_t r1) {
    Layer& layer = layers_[k];
    const int64_t lo = bounds_[2 * channel], hi = bounds_[2 * channel + 1], group = hi - lo, m = r1 - r0;
    const int64_t h2 = layer.row_bias.size(1), padded = layer.width + 2 * layer.pad;
    float* pre = f32(layer.pre[channel]) + r0 * 2 * group;
    const float* bias = f32(layer.row_bias) + (r0 * padded + col) * h2 + 2 * lo;
    copy_rows(m, 2 * group, bias, padded * h2, pre, 2 * group);
    const int64_t row_ld = layer.row.size(1) * layer.in, taps = layer.pad + 1;
    const float* row = f32(layer.row) + r0 * row_ld;
    gemm(m, 2 * group, taps * layer.in, row + col * layer.in, row_ld, f32(layer.horizontal[channel]), 2 * group, 1.0f, pre, 2 * group);
    const int64_t gated_ld = gated_.size(1) * gated_.size(2), stride = gated_.size(2);
    float* gated = f32(gated_) + r0 * gated_ld + k * stride;
    for (int64_t i = 0; i < m; ++i) gate(pre + i * 2 * group, group, gated + i * gated_ld + 1 + lo);
    if (k + 1 == layers_.size()) return;  // the last layer feeds only its skip
    Layer& above = layers_[k + 1];
    const int64_t above_ld = above.row.size(1) * above.in;
    float* layer_out = f32(above.row) + r0 * above_ld + (above.pad + col) * above.in + lo;
    const float* weight = f32(layer.residual[channel]);
    if (layer.first) {
      gemm(m, group, 1 + hi, gated, gated_ld, weight, group, 0.0f, layer_out, above_ld);
    } else {
      copy_rows(m, group, row + (layer.pad + col) * layer.in + lo, row_ld, layer_out, above_ld);
      gemm(m, group, 1 + hi, gated, gated_ld, weight, group, 1.0f, layer_out, above_ld);
    }
  }

  // The skip sum and the output head for colour `channel`, batch rows [r0, r1) -> logits_ (n, levels).
  void head(int64_t channel, int64_t r0, int64_t r1) {
    const int64_t lo = bounds_[2 * channel], hi = bounds_[2 * channel + 1], group = hi - lo, m = r1 - r0;
    const int64_t layers = gated_.size(1), stride = gated_.size(2), h = hidden_channels_;
    const float* stacked = f32(gated_) + r0 * layers * stride;
    int64_t stacked_ld = layers * stride;
    if (hi != h) {  // this group's columns of every layer, side by side
      stacked_ld = layers * (1 + hi);
      float* to = f32(stacked_) + r0 * stacked_ld;
      for (int64_t i = 0; i < m; ++i)
        for (int64_t l = 0; l < layers; ++l)
          std::memcpy(to + i * stacked_ld + l * (1 + hi), stacked + i * layers * stride + l * stride, (1 + hi) * sizeof(float));
      stacked = to;
    }
    float* skips = f32(skips_) + r0 * h;
    gemm(m, group, stacked_ld, stacked, stacked_ld, f32(skip_[channel]), group, 0.0f, skips + lo, h);
    float* relu = f32(relu_) + r0 * hi;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < hi; ++j) relu[i * hi + j] = std::max(skips[i * h + j], 0.0f);
    float* features = f32(features_) + r0 * h;
    const float* bias = f32(hidden_b_[channel]);
    for (int64_t i = 0; i < m; ++i) std::memcpy(features + i * h + lo, bias, group * sizeof(float));
    gemm(m, group, hi, relu, hi, f32(hidden_[channel]), group, 1.0f, features + lo, h);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = lo; j < hi; ++j) features[i * h + j] = std::max(features[i * h + j], 0.0f);
    float* logits = f32(logits_) + r0 * levels_;
    const float* out_bias = f32(out_b_) + channel * levels_;
    for (int64_t i = 0; i < m; ++i) std::memcpy(logits + i * levels_, out_bias, levels_ * sizeof(float));
    gemm(m, levels_, hi, features, h, f32(out_[channel]), levels_, 1.0f, logits, levels_);
  }

  // Each image's logits after guidance (before the temperature) -> chosen_ (images, levels).
  void choose(int64_t channel) {
    const float* logits = f32(logits_);
    float* chosen = f32(chosen_);
    const bool* guided = guided_.data_ptr<bool>();
    const int64_t* second = second_.data_ptr<int64_t>();
    const float* scale = f32(scale_);
    for (int64_t i = 0; i < images_; ++i) {
      const float* c = logits + i * levels_;
      float* out = chosen + i * levels_;
      if (guided[i]) {
        const float* u = logits + second[i] * levels_;
        const float s = scale[i];
        for (int64_t j = 0; j < levels_; ++j) out[j] = u[j] + s * (c[j] - u[j]);
      } else {
        std::memcpy(out, c, levels_ * sizeof(float));
      }
    }
  }

  // What the drawer's `on_logits` hooks see: LogitsRecords written here, other hooks called.
  void call_hooks(int64_t channel, int64_t row, int64_t col) {
    if (record_first_.empty() && hooks_.empty()) return;
    const int64_t channels = canvas_.size(1), width = canvas_.size(3);
    const int64_t index = (row * width + col) * channels + channel;
    const float* chosen = f32(chosen_);
    for (size_t r = 0; r < record_first_.size(); ++r) {
      const int64_t lo = record_bounds_[2 * r], hi = record_bounds_[2 * r + 1];
      std::memcpy(f32(record_first_[r]) + index * levels_, chosen + lo * levels_, levels_ * sizeof(float));
      at::Tensor& others = record_others_[r];
      const int64_t kept = std::min<int64_t>(others.size(0), hi - lo - 1), others_ld = others.size(1) * levels_;
      at::Half* half = others.data_ptr<at::Half>();
      for (int64_t i = 0; i < kept; ++i)
        for (int64_t j = 0; j < levels_; ++j) half[i * others_ld + index * levels_ + j] = at::Half(chosen[(lo + 1 + i) * levels_ + j]);
      int64_t* count = record_count_[r].data_ptr<int64_t>();
      count[0] = std::max(count[0], index + 1);
    }
    for (size_t k = 0; k < hooks_.size(); ++k) {
      const int64_t lo = hook_bounds_[2 * k], hi = hook_bounds_[2 * k + 1];
      hooks_[k](channel, row, col, chosen_.narrow(0, lo, hi - lo).clone());
    }
  }

  // Each image's value, argmax(chosen / T + g), or its given one; into the canvas, the bits and
  // the first layer's row (both batch rows of a guided image).
  void draw(int64_t channel, int64_t row, int64_t col, const at::Tensor& noise) {
    const int64_t channels = canvas_.size(1), height = canvas_.size(2), width = canvas_.size(3);
    const float* g = f32(noise) + (channel * width + col) * levels_;  // image i's at g + i * C * W * levels
    const int64_t cell = (channel * height + row) * width + col;
    at::parallel_for(0, images_, row_grain_, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) draw_image(i, cell, g + i * channels * width * levels_);
    });
    Layer& first = layers_[0];
    const int64_t batch_rows = row_images_.size(0), row_ld = first.row.size(1) * first.in;
    const int64_t* images = row_images_.data_ptr<int64_t>();
    const int64_t* values = values_.data_ptr<int64_t>();
    const float* intensity = f32(intensity_);
    float* input = f32(first.row) + (first.pad + col) * first.in + channel;
    for (int64_t r = 0; r < batch_rows; ++r) input[r * row_ld] = intensity[values[images[r]]];
  }

  // Image i at canvas cell `cell` (channel, row, col) with its Gumbel noise g (levels).
  void draw_image(int64_t i, int64_t cell, const float* g) {
    const int64_t image_ld = canvas_.size(1) * canvas_.size(2) * canvas_.size(3);
    int64_t best = gumbel_max(f32(chosen_) + i * levels_, g, f32(temperature_)[i], levels_);
    if (known_ && known_mask_->data_ptr<bool>()[i * image_ld + cell]) best = known_->data_ptr<int64_t>()[i * image_ld + cell];
    values_.data_ptr<int64_t>()[i] = best;
    const int64_t at = kept_ ? kept_->data_ptr<int64_t>()[i] : i;
    canvas_.data_ptr<int64_t>()[at * image_ld + cell] = best;
    if (counting_) nats_.data_ptr<double>()[at] -= static_cast<double>(log_softmax_at(f32(logits_) + i * levels_, best, levels_));
  }

  std::vector<Layer> layers_;
  std::optional<at::Tensor> cond_map_;  // (n, H, W, M), channels last: the spatial map every layer reads
  std::vector<int64_t> bounds_;
  at::Tensor gated_;
  std::vector<at::Tensor> skip_, hidden_, hidden_b_, out_;
  at::Tensor out_b_, intensity_;
  int64_t images_;
  at::Tensor row_images_, second_, guided_, scale_, temperature_;
  std::optional<at::Tensor> known_, known_mask_;
  at::Tensor canvas_;
  std::optional<at::Tensor> kept_;
  at::Tensor nats_;
  bool counting_;
  std::vector<int64_t> record_bounds_;
  std::vector<at::Tensor> record_first_, record_others_, record_count_;
  std::vector<int64_t> hook_bounds_;
  std::vector<py::object> hooks_;
  int64_t row_grain_, chunk_bytes_;  // batch rows a thread takes at least; bytes of a vertical chunk's inputs and outputs
  int64_t n_, hidden_channels_, levels_;
  at::Tensor skips_, relu_, features_, stacked_, logits_, chosen_, values_;
};

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  py::class_<NativePixel>(m, "NativePixel")
      .def(py::init<std::vector<at::Tensor>, std::vector<at::Tensor>, std::vector<std::vector<at::Tensor>>,
                    std::vector<std::vector<at::Tensor>>, std::vector<std::vector<at::Tensor>>, std::vector<at::Tensor>,
                    std::vector<at::Tensor>, std::vector<at::Tensor>, std::vector<std::vector<std::vector<at::Tensor>>>,
                    std::vector<std::optional<at::Tensor>>, std::vector<std::optional<at::Tensor>>,
                    std::vector<std::optional<at::Tensor>>, std::optional<at::Tensor>, std::vector<int64_t>, at::Tensor,
                    std::vector<at::Tensor>, std::vector<at::Tensor>, std::vector<at::Tensor>, std::vector<at::Tensor>, at::Tensor,
                    at::Tensor, int64_t, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, std::optional<at::Tensor>,
                    std::optional<at::Tensor>, at::Tensor, std::optional<at::Tensor>, at::Tensor, bool, std::vector<int64_t>,
                    std::vector<at::Tensor>, std::vector<at::Tensor>, std::vector<at::Tensor>, std::vector<int64_t>,
                    std::vector<py::object>, int64_t, int64_t>())
      .def("pixel", &NativePixel::pixel, "Draw every channel of pixel (row, col) with the row's Gumbel noise.")
      .def("next_row", &NativePixel::next_row, "The vertical stack over the finished row, with each layer's biases.");
}
