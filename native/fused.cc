// One fused kernel that ATen lacks: multiplying an activation by windows read
// from a small table, with an optional ReLU or residual add in the same pass,
//
//   x viewed as (A, G, L), index (A) int64, table (R, S) float32 or uint8 read flat, scale (K):
//   m[a]               = table_flat[index[a] * S : index[a] * S + L] * scale[a / (A / K)]
//   out[a, g, :]       = act(x[a, g, :]) * m[a]          (act = ReLU or identity)
//   or out[a, g, :]    = base[a, g, :] + x[a, g, :] * m[a]
//
// Why it exists: a structured-dropout mask applied as separate ATen ops costs
// a gather that writes a full-size mask, then a multiply, then a multiply in
// backward. On a small ConvNet those passes over memory are a large share of
// the step (bench/masks). Here the mask is never materialised: the table (a
// few hundred KiB, cache-resident) is read in place, and the ReLU or residual
// add the network applies next comes in the same pass. What the table holds
// and how indices are drawn is the caller's business (src/layers/patterns.ts);
// this file only knows windows, indices and scales. A caller whose table
// holds only 0 and 1 says so (`binary`): the ReLU gradient then needs no
// second read of the table. x is float32, or bfloat16 under autocast
// (computed in float32, each result rounded once); other types and devices
// run as ATen ops (composite()).
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>

#include "common.h"

namespace adt {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

struct Geometry {
  int64_t A, G, L, S, K;
};

Geometry geometryOf(const at::Tensor& x, const at::Tensor& table, const at::Tensor& index, const at::Tensor& scale,
                    int64_t L) {
  TORCH_CHECK(table.dim() == 2, "table must be 2-D (rows, row stride), got ", table.sizes());
  TORCH_CHECK(index.dim() == 1 && index.scalar_type() == at::kLong, "index must be 1-D int64, got ", index.sizes());
  TORCH_CHECK(scale.dim() == 1 && scale.size(0) > 0 && index.size(0) % scale.size(0) == 0,
              "scale must be 1-D with a length dividing index's ", index.size(0), ", got ", scale.sizes());
  TORCH_CHECK(L > 0 && L <= table.numel(), "window length must be in [1, ", table.numel(), "], got ", L);
  Geometry g{index.size(0), 0, L, table.size(1), scale.size(0)};
  const int64_t per = g.A * g.L;
  TORCH_CHECK(per > 0 && x.numel() % per == 0, "x (", x.numel(), " elements) is not a whole number of (A, G, L) = (", g.A,
              ", G, ", g.L, ") blocks");
  g.G = x.numel() / per;
  return g;
}

void checkIndex(const Geometry& g, const int64_t* index, int64_t tableSize) {
  for (int64_t a = 0; a < g.A; a++)
    TORCH_CHECK(index[a] >= 0 && index[a] * g.S + g.L <= tableSize, "index[", a, "] = ", index[a],
                " puts a window of ", g.L, " outside the table's ", tableSize, " values");
}

// Indices a parallel chunk should cover so that each task has ~32K elements.
int64_t grainOf(const Geometry& g) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, g.G * g.L)); }

// One index a: its G rows of L against one window. Compiled for AVX2 and for
// baseline x86-64 (the loader picks the clone the CPU supports) and at -O3 so
// that GCC vectorises the loops: ATen's elementwise kernels are AVX2 too.
// no-trapping-math lets GCC compute both sides of the ReLU select (nobody
// reads the FP exception flags).
struct Block {
  const void* src;    // x (forward) or the incoming gradient (backward), of the activation type X
  const void* other;  // forward with base: base; backward with ReLU: the forward output (type X)
  void* out;          // type X
  const void* window;  // float or uint8_t, as the table
  int64_t G, L;
  float s;
};

#define ADT_BLOCK_KERNEL \
  __attribute__((target_clones("avx2", "default"), optimize("O3", "no-trapping-math"))) static void

// An activation element: float, or the 16 bits of a bfloat16 (under
// autocast). bfloat16 is the high half of a float32: widening is a shift, and
// narrowing rounds to nearest even by adding 0x7fff plus the lowest kept bit
// (NaN stays NaN). Macros, not functions: GCC does not inline a function
// compiled with other floating-point options (the kernels' no-trapping-math)
// and the loops would not vectorise; c10::BFloat16's conversions do not
// vectorise either.
#define ADT_LOAD_F32(p, i) ((p)[i])
#define ADT_STORE_F32(p, i, v) ((p)[i] = (v))
#define ADT_LOAD_BF16(p, i) __builtin_bit_cast(float, static_cast<uint32_t>((p)[i]) << 16)
#define ADT_STORE_BF16(p, i, v)                                                                     \
  do {                                                                                               \
    const float f_ = (v);                                                                            \
    const uint32_t u_ = __builtin_bit_cast(uint32_t, f_);                                            \
    (p)[i] = static_cast<uint16_t>((f_ != f_ ? 0x7fc00000u : u_ + 0x7fffu + ((u_ >> 16) & 1u)) >> 16); \
  } while (0)

// The kernels for one table element type T (float, or uint8_t: a 0/1 table a
// quarter the size, which stays in cache next to the streaming activations)
// and one activation type X with its LOAD/STORE (float; or bfloat16 bits:
// read as float, multiplied in float, each result rounded once).
#define ADT_DEFINE_KERNELS(SUFFIX, T, X, LOAD, STORE)                                                  \
  /* forward without ReLU, and its gradient */                                                        \
  ADT_BLOCK_KERNEL blockScale##SUFFIX(const Block& k) {                                                \
    const T* __restrict__ w = static_cast<const T*>(k.window);                                         \
    const float s = k.s;                                                                               \
    for (int64_t g = 0, L = k.L; g < k.G; g++) {                                                       \
      const X* __restrict__ in = static_cast<const X*>(k.src) + g * L;                                 \
      X* __restrict__ o = static_cast<X*>(k.out) + g * L;                                              \
      for (int64_t l = 0; l < L; l++) STORE(o, l, LOAD(in, l) * static_cast<float>(w[l]) * s);         \
    }                                                                                                  \
  }                                                                                                    \
  ADT_BLOCK_KERNEL blockScaleAdd##SUFFIX(const Block& k) {                                             \
    const T* __restrict__ w = static_cast<const T*>(k.window);                                         \
    const float s = k.s;                                                                               \
    for (int64_t g = 0, L = k.L; g < k.G; g++) {                                                       \
      const X* __restrict__ in = static_cast<const X*>(k.src) + g * L;                                 \
      const X* __restrict__ base = static_cast<const X*>(k.other) + g * L;                             \
      X* __restrict__ o = static_cast<X*>(k.out) + g * L;                                              \
      for (int64_t l = 0; l < L; l++) STORE(o, l, LOAD(base, l) + LOAD(in, l) * static_cast<float>(w[l]) * s); \
    }                                                                                                  \
  }                                                                                                    \
  ADT_BLOCK_KERNEL blockReluForward##SUFFIX(const Block& k) {                                          \
    const T* __restrict__ w = static_cast<const T*>(k.window);                                         \
    const float s = k.s;                                                                               \
    for (int64_t g = 0, L = k.L; g < k.G; g++) {                                                       \
      const X* __restrict__ in = static_cast<const X*>(k.src) + g * L;                                 \
      X* __restrict__ o = static_cast<X*>(k.out) + g * L;                                              \
      for (int64_t l = 0; l < L; l++) {                                                                \
        const float v = LOAD(in, l);                                                                   \
        STORE(o, l, (v > 0.f ? v : 0.f) * static_cast<float>(w[l]) * s);                               \
      }                                                                                                \
    }                                                                                                  \
  }                                                                                                    \
  ADT_BLOCK_KERNEL blockReluBackward##SUFFIX(const Block& k) {                                         \
    const T* __restrict__ w = static_cast<const T*>(k.window);                                         \
    const float s = k.s;                                                                               \
    for (int64_t g = 0, L = k.L; g < k.G; g++) {                                                       \
      const X* __restrict__ in = static_cast<const X*>(k.src) + g * L;                                 \
      const X* __restrict__ y = static_cast<const X*>(k.other) + g * L;                                \
      X* __restrict__ o = static_cast<X*>(k.out) + g * L;                                              \
      for (int64_t l = 0; l < L; l++) {                                                                \
        const float v = LOAD(in, l) * static_cast<float>(w[l]) * s;                                    \
        STORE(o, l, LOAD(y, l) > 0.f ? v : 0.f);                                                       \
      }                                                                                                \
    }                                                                                                  \
  }

// With a 0/1 table, out > 0 already implies a window value of 1, so the ReLU
// gradient is the incoming one times the scale where out > 0: the table is
// not read again (the backward costs what ReLU's own does).
#define ADT_DEFINE_BINARY_BACKWARD(SUFFIX, X, LOAD, STORE)                                             \
  ADT_BLOCK_KERNEL blockReluBackwardBinary##SUFFIX(const Block& k) {                                   \
    const float s = k.s;                                                                               \
    for (int64_t g = 0, L = k.L; g < k.G; g++) {                                                       \
      const X* __restrict__ in = static_cast<const X*>(k.src) + g * L;                                 \
      const X* __restrict__ y = static_cast<const X*>(k.other) + g * L;                                \
      X* __restrict__ o = static_cast<X*>(k.out) + g * L;                                              \
      for (int64_t l = 0; l < L; l++) {                                                                \
        const float v = LOAD(in, l) * s;                                                               \
        STORE(o, l, LOAD(y, l) > 0.f ? v : 0.f);                                                       \
      }                                                                                                \
    }                                                                                                  \
  }

ADT_DEFINE_KERNELS(F32, float, float, ADT_LOAD_F32, ADT_STORE_F32)
ADT_DEFINE_KERNELS(U8, uint8_t, float, ADT_LOAD_F32, ADT_STORE_F32)
ADT_DEFINE_KERNELS(F32Bf16, float, uint16_t, ADT_LOAD_BF16, ADT_STORE_BF16)
ADT_DEFINE_KERNELS(U8Bf16, uint8_t, uint16_t, ADT_LOAD_BF16, ADT_STORE_BF16)
ADT_DEFINE_BINARY_BACKWARD(F32, float, ADT_LOAD_F32, ADT_STORE_F32)
ADT_DEFINE_BINARY_BACKWARD(Bf16, uint16_t, ADT_LOAD_BF16, ADT_STORE_BF16)
#undef ADT_DEFINE_KERNELS
#undef ADT_DEFINE_BINARY_BACKWARD
#undef ADT_LOAD_F32
#undef ADT_STORE_F32
#undef ADT_LOAD_BF16
#undef ADT_STORE_BF16
#undef ADT_BLOCK_KERNEL

enum class Mode { Scale, ScaleAdd, ReluForward, ReluBackward, ReluBackwardBinary };

using Kernel = void (*)(const Block&);

// The kernel for a mode, table type (u8) and activation type (bf16).
Kernel kernelFor(Mode mode, bool u8, bool bf16) {
  switch (mode) {
    case Mode::Scale: return bf16 ? (u8 ? blockScaleU8Bf16 : blockScaleF32Bf16) : (u8 ? blockScaleU8 : blockScaleF32);
    case Mode::ScaleAdd: return bf16 ? (u8 ? blockScaleAddU8Bf16 : blockScaleAddF32Bf16) : (u8 ? blockScaleAddU8 : blockScaleAddF32);
    case Mode::ReluForward:
      return bf16 ? (u8 ? blockReluForwardU8Bf16 : blockReluForwardF32Bf16) : (u8 ? blockReluForwardU8 : blockReluForwardF32);
    case Mode::ReluBackward:
      return bf16 ? (u8 ? blockReluBackwardU8Bf16 : blockReluBackwardF32Bf16) : (u8 ? blockReluBackwardU8 : blockReluBackwardF32);
    case Mode::ReluBackwardBinary: return bf16 ? blockReluBackwardBinaryBf16 : blockReluBackwardBinaryF32;
  }
  TORCH_CHECK(false, "unknown mode");
}

void run(Mode mode, const Geometry& g, const at::Tensor& src, const at::Tensor& other, const at::Tensor& table,
         const at::Tensor& index, const at::Tensor& scale, at::Tensor& out) {
  const bool bf16 = src.scalar_type() == at::kBFloat16;
  const int64_t xElem = bf16 ? 2 : 4;
  const char* sp = static_cast<const char*>(src.data_ptr());
  const char* op = other.defined() ? static_cast<const char*>(other.data_ptr()) : nullptr;
  const bool u8 = table.scalar_type() == at::kByte;
  const char* tp = static_cast<const char*>(table.data_ptr());
  const int64_t elem = u8 ? 1 : sizeof(float);
  const int64_t* ip = index.data_ptr<int64_t>();
  const float* scp = scale.data_ptr<float>();
  char* outp = static_cast<char*>(out.data_ptr());
  checkIndex(g, ip, table.numel());
  const Kernel kernel = kernelFor(mode, u8, bf16);
  const int64_t span = g.G * g.L, perScale = g.A / g.K;
  at::parallel_for(0, g.A, grainOf(g), [&](int64_t begin, int64_t end) {
    for (int64_t a = begin; a < end; a++) {
      const int64_t off = a * span * xElem;
      kernel(Block{sp + off, op ? op + off : nullptr, outp + off, tp + ip[a] * g.S * elem, g.G, g.L, scp[a / perScale]});
    }
  });
}

class MulTableWindows : public torch::autograd::Function<MulTableWindows> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& table, const at::Tensor& index,
                            const at::Tensor& scale, int64_t L, bool relu, const at::Tensor& base, bool hasBase,
                            bool binary) {
    const Geometry g = geometryOf(x, table, index, scale, L);
    at::Tensor xc = x.contiguous(), tc = table.contiguous(), ic = index.contiguous(), sc = scale.contiguous();
    at::Tensor bc = hasBase ? base.contiguous() : at::Tensor();
    at::Tensor out = at::empty_like(xc);
    run(bc.defined() ? Mode::ScaleAdd : relu ? Mode::ReluForward : Mode::Scale, g, xc, bc, tc, ic, sc, out);
    // With ReLU the output tells where the gradient passes (out > 0 exactly
    // where x > 0 and the multiplier is not zero; elsewhere it is zero anyway).
    ctx->save_for_backward({relu ? out : at::Tensor(), tc, ic, sc});
    ctx->saved_data["relu"] = relu;
    ctx->saved_data["L"] = L;
    ctx->saved_data["hasBase"] = hasBase;
    ctx->saved_data["binary"] = binary;
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const bool relu = ctx->saved_data["relu"].toBool();
    at::Tensor go = grads[0].contiguous();
    const Geometry g = geometryOf(go, saved[1], saved[2], saved[3], ctx->saved_data["L"].toInt());
    at::Tensor gx = at::empty_like(go);
    const bool binary = ctx->saved_data["binary"].toBool();
    run(relu ? (binary ? Mode::ReluBackwardBinary : Mode::ReluBackward) : Mode::Scale, g, go, saved[0], saved[1], saved[2], saved[3],
        gx);
    // The residual's gradient is the incoming one, unchanged.
    const bool hasBase = ctx->saved_data["hasBase"].toBool();
    return {gx,          at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), hasBase ? grads[0] : at::Tensor(),
            at::Tensor(), at::Tensor()};
  }
};

// The same result from ATen ops, for devices and dtypes the kernel does not
// cover (e.g. CUDA): a materialised gather and two multiplies.
at::Tensor composite(const at::Tensor& x, const at::Tensor& table, const at::Tensor& index, const at::Tensor& scale,
                     int64_t L, bool relu, const at::Tensor& base) {
  const Geometry g = geometryOf(x, table, index, scale, L);
  at::Tensor starts = (index * g.S).unsqueeze(1) + at::arange(L, index.options());
  at::Tensor windows = table.reshape({-1}).index_select(0, starts.reshape({-1})).view({g.A, 1, L}).to(at::kFloat);
  at::Tensor perIndex = scale.repeat_interleave(g.A / g.K).view({g.A, 1, 1}).to(windows.scalar_type());
  at::Tensor m = windows * perIndex;
  at::Tensor in = (relu ? at::relu(x) : x).reshape({g.A, g.G, L});
  // A bfloat16/float16 activation (under autocast) is multiplied in float32
  // and rounded once: its multipliers (1 / keep, noise) are never rounded to
  // the activation's precision first, so a pattern means what it means in float32.
  const bool reduced = x.scalar_type() == at::kBFloat16 || x.scalar_type() == at::kHalf;
  at::Tensor y = (reduced ? (in.to(at::kFloat) * m).to(x.scalar_type()) : in * m.to(x.scalar_type())).view(x.sizes());
  return base.defined() ? base + y : y;
}

// mulTableWindows(x, table, index, scale, windowLength, relu, base?, binary)
ADT_OP(mulTableWindows) {
  const at::Tensor& x = a.tensor(0);
  const at::Tensor& table = a.tensor(1);
  const at::Tensor& index = a.tensor(2);
  const at::Tensor& scale = a.tensor(3);
  const int64_t L = a.int64(4);
  const bool relu = a.boolean(5);
  const at::Tensor base = a.optTensor(6).value_or(at::Tensor());
  // The caller's promise that every table value is 0 or 1 (not checked: that
  // would read the table on every call).
  const bool binary = a.boolOr(7, false);
  TORCH_CHECK(!table.requires_grad() && !scale.requires_grad(), "table and scale must not require gradients");
  TORCH_CHECK(!(relu && base.defined()), "relu and base cannot be combined");
  if (base.defined()) TORCH_CHECK(base.sizes() == x.sizes(), "base must have x's shape ", x.sizes(), ", got ", base.sizes());
  TORCH_CHECK(table.scalar_type() == at::kFloat || table.scalar_type() == at::kByte, "table must be float32 or uint8");
  // The kernel covers float32 and bfloat16 (autocast) activations on the CPU; a residual of the same type.
  bool kernel = x.is_cpu() && table.is_cpu() && index.is_cpu() && scale.is_cpu() &&
                (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16) && scale.scalar_type() == at::kFloat;
  if (base.defined()) kernel = kernel && base.is_cpu() && base.scalar_type() == x.scalar_type();
  if (!kernel) return TensorWrap::Wrap(a.env(), composite(x, table, index, scale, L, relu, base));
  // Without a residual, an empty tensor stands in for it: autograd's apply()
  // needs a defined tensor in every tensor argument.
  const at::Tensor baseArg = base.defined() ? base : at::empty({0}, x.options());
  return TensorWrap::Wrap(a.env(), MulTableWindows::apply(x, table, index, scale, L, relu, baseArg, base.defined(), binary));
}

}  // namespace

void InitFused(Napi::Env env, Napi::Object exports) {
  exports.Set("mulTableWindows", Napi::Function::New(env, mulTableWindows, "mulTableWindows"));
}

}  // namespace adt
