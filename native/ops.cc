// ATen operations, one JS function each, named after the ATen op they call.
// Arguments follow ATen's order; defaults are filled on the TypeScript side.
#include <ATen/autocast_mode.h>

#include <dlfcn.h>

#include <cstring>

#include "common.h"

namespace adt {
namespace {

using Napi::Value;

Value W(const Args& a, at::Tensor t) { return TensorWrap::Wrap(a.env(), std::move(t)); }

at::IntArrayRef iref(const std::vector<int64_t>& v) { return at::IntArrayRef(v); }

// ------------------------------------------------------------ creation
ADT_OP(zeros) { return W(a, at::zeros(a.ints(0), at::TensorOptions().dtype(a.dtype(1)).device(a.device(2)))); }
ADT_OP(ones) { return W(a, at::ones(a.ints(0), at::TensorOptions().dtype(a.dtype(1)).device(a.device(2)))); }
ADT_OP(full) {
  return W(a, at::full(a.ints(0), a.num(1), at::TensorOptions().dtype(a.dtype(2)).device(a.device(3))));
}
ADT_OP(arange) {
  return W(a, at::arange(a.num(0), a.num(1), a.num(2), at::TensorOptions().dtype(a.dtype(3)).device(a.device(4))));
}
ADT_OP(eye) { return W(a, at::eye(a.int64(0), at::TensorOptions().dtype(a.dtype(1)).device(a.device(2)))); }

// fromTypedArray(typedArray, shape, dtype, device): copies the JS memory.
ADT_OP(fromTypedArray) {
  if (!a.info[0].IsTypedArray()) a.fail(0, "must be a typed array");
  auto ta = a.info[0].As<Napi::TypedArray>();
  auto shape = a.ints(1);
  at::ScalarType dt = a.dtype(2);
  int64_t n = 1;
  for (auto s : shape) n *= s;
  size_t elem = c10::elementSize(dt);
  if (static_cast<size_t>(n) * elem != ta.ByteLength())
    a.fail(0, "holds " + std::to_string(ta.ByteLength() / std::max<size_t>(elem, 1)) + " elements but shape needs " +
                  std::to_string(n));
  auto ab = ta.ArrayBuffer();
  void* data = static_cast<uint8_t*>(ab.Data()) + ta.ByteOffset();
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dt));
  if (n > 0) std::memcpy(t.data_ptr(), data, ta.ByteLength());
  at::Device dev = a.device(3);
  if (!dev.is_cpu()) t = t.to(dev);
  return W(a, t);
}

// toBuffer(t): a copy of the data as an ArrayBuffer (contiguous, on the CPU).
ADT_OP(toArrayBuffer) {
  at::Tensor t = a.tensor(0).detach().to(at::kCPU).contiguous();
  size_t bytes = t.numel() * t.element_size();
  auto ab = Napi::ArrayBuffer::New(a.env(), bytes);
  if (bytes) std::memcpy(ab.Data(), t.data_ptr(), bytes);
  return ab;
}
ADT_OP(item) {
  at::Tensor t = a.tensor(0);
  if (t.numel() != 1) throw std::invalid_argument("item() needs a tensor with one element, got " + std::to_string(t.numel()));
  return Napi::Number::New(a.env(), t.item<double>());
}

// ------------------------------------------------------------ random (seeded generator)
ADT_OP(rand) { return W(a, at::rand(a.ints(0), a.generator(1), at::TensorOptions().dtype(a.dtype(2)))); }
ADT_OP(randn) { return W(a, at::randn(a.ints(0), a.generator(1), at::TensorOptions().dtype(a.dtype(2)))); }
ADT_OP(randint) {
  return W(a, at::randint(a.int64(0), a.int64(1), a.ints(2), a.generator(3), at::TensorOptions().dtype(at::kLong)));
}
ADT_OP(randperm) { return W(a, at::randperm(a.int64(0), a.generator(1), at::TensorOptions().dtype(at::kLong))); }
ADT_OP(bernoulli) { return W(a, at::bernoulli(a.tensor(0), a.generator(1))); }
ADT_OP(bernoulliScalar) { return W(a, at::bernoulli(a.tensor(0), a.num(1), a.generator(2))); }
ADT_OP(manualSeed) {
  at::manual_seed(static_cast<uint64_t>(a.int64(0)));
  return a.env().Undefined();
}

// ------------------------------------------------------------ elementwise
#define UNARY(NAME, EXPR) \
  ADT_OP(NAME) {          \
    const at::Tensor& x = a.tensor(0); \
    return W(a, EXPR);    \
  }
UNARY(neg, at::neg(x))
UNARY(exp, at::exp(x))
UNARY(log, at::log(x))
UNARY(log1p, at::log1p(x))
UNARY(sqrt, at::sqrt(x))
UNARY(rsqrt, at::rsqrt(x))
UNARY(abs, at::abs(x))
UNARY(sign, at::sign(x))
UNARY(square, at::square(x))
UNARY(reciprocal, at::reciprocal(x))
UNARY(floor, at::floor(x))
UNARY(ceil, at::ceil(x))
UNARY(round, at::round(x))
UNARY(sin, at::sin(x))
UNARY(cos, at::cos(x))
UNARY(erf, at::erf(x))
UNARY(relu, at::relu(x))
UNARY(silu, at::silu(x))
UNARY(sigmoid, at::sigmoid(x))
UNARY(tanh, at::tanh(x))
UNARY(logicalNot, at::logical_not(x))
UNARY(isnan, at::isnan(x))
UNARY(isfinite, at::isfinite(x))
UNARY(contiguous, x.contiguous())
UNARY(clone, x.clone())
UNARY(detach, x.detach())
#undef UNARY

ADT_OP(gelu) { return W(a, at::gelu(a.tensor(0), a.boolOr(1, false) ? "tanh" : "none")); }
ADT_OP(leakyRelu) { return W(a, at::leaky_relu(a.tensor(0), a.num(1))); }
ADT_OP(clamp) {
  c10::optional<at::Scalar> lo, hi;
  if (!a.isMissing(1)) lo = a.num(1);
  if (!a.isMissing(2)) hi = a.num(2);
  return W(a, at::clamp(a.tensor(0), lo, hi));
}

// Binary ops accept a tensor or a number as the second operand.
#define BINARY(NAME, FN)                                             \
  ADT_OP(NAME) {                                                     \
    const at::Tensor& x = a.tensor(0);                               \
    if (a.isTensor(1)) return W(a, FN(x, a.tensor(1)));              \
    return W(a, FN(x, at::Scalar(a.num(1))));                        \
  }
BINARY(add, at::add)
BINARY(sub, at::sub)
BINARY(mul, at::mul)
BINARY(div, at::div)
BINARY(pow, at::pow)
BINARY(eq, at::eq)
BINARY(ne, at::ne)
BINARY(lt, at::lt)
BINARY(le, at::le)
BINARY(gt, at::gt)
BINARY(ge, at::ge)
BINARY(remainder, at::remainder)
#undef BINARY
ADT_OP(maximum) {
  if (a.isTensor(1)) return W(a, at::maximum(a.tensor(0), a.tensor(1)));
  return W(a, at::clamp_min(a.tensor(0), a.num(1)));
}
ADT_OP(minimum) {
  if (a.isTensor(1)) return W(a, at::minimum(a.tensor(0), a.tensor(1)));
  return W(a, at::clamp_max(a.tensor(0), a.num(1)));
}
ADT_OP(logicalAnd) { return W(a, at::logical_and(a.tensor(0), a.tensor(1))); }
ADT_OP(logicalOr) { return W(a, at::logical_or(a.tensor(0), a.tensor(1))); }
ADT_OP(where) {
  const at::Tensor& c = a.tensor(0);
  if (a.isTensor(1) && a.isTensor(2)) return W(a, at::where(c, a.tensor(1), a.tensor(2)));
  if (a.isTensor(1)) return W(a, at::where(c, a.tensor(1), at::Scalar(a.num(2))));
  if (a.isTensor(2)) return W(a, at::where(c, at::Scalar(a.num(1)), a.tensor(2)));
  return W(a, at::where(c, at::Scalar(a.num(1)), at::Scalar(a.num(2))));
}
ADT_OP(maskedFill) {
  // ATen 1.13 silently fills nothing for a float mask (and warns for uint8): insist on bool.
  const at::Tensor& mask = a.tensor(1);
  if (mask.scalar_type() != at::kBool)
    throw std::invalid_argument("mask must be a bool tensor, got " + dtypeName(mask.scalar_type()));
  return W(a, at::masked_fill(a.tensor(0), mask, at::Scalar(a.num(2))));
}
ADT_OP(to) {
  at::Tensor x = a.tensor(0);
  at::ScalarType dt = a.isMissing(1) ? x.scalar_type() : a.dtype(1);
  if (a.isMissing(2)) return W(a, x.to(dt));
  return W(a, x.to(a.device(2), dt));
}

// In-place ops, used by optimizers-in-TS (EMA, parameter loading); they bump
// the autograd version counter, so libtorch still catches misuse.
ADT_OP(copy_) {
  a.tensor(0).copy_(a.tensor(1));
  return a.info[0];
}
ADT_OP(fill_) {
  a.tensor(0).fill_(a.num(1));
  return a.info[0];
}
ADT_OP(mulScalar_) {
  a.tensor(0).mul_(a.num(1));
  return a.info[0];
}
ADT_OP(addScaled_) {  // x += alpha * y
  a.tensor(0).add_(a.tensor(1), a.num(2));
  return a.info[0];
}

// ------------------------------------------------------------ linear algebra
ADT_OP(matmul) { return W(a, at::matmul(a.tensor(0), a.tensor(1))); }
ADT_OP(bmm) { return W(a, at::bmm(a.tensor(0), a.tensor(1))); }
ADT_OP(linear) { return W(a, at::linear(a.tensor(0), a.tensor(1), a.optTensor(2))); }

// ------------------------------------------------------------ nn
ADT_OP(conv2d) {
  auto stride = a.ints(3), padding = a.ints(4), dilation = a.ints(5);
  return W(a, at::conv2d(a.tensor(0), a.tensor(1), a.optTensor(2), iref(stride), iref(padding), iref(dilation), a.int64(6)));
}
ADT_OP(batchNorm) {
  // (x, weight?, bias?, runningMean?, runningVar?, training, momentum, eps)
  return W(a, at::batch_norm(a.tensor(0), a.optTensor(1), a.optTensor(2), a.optTensor(3), a.optTensor(4), a.boolean(5),
                             a.num(6), a.num(7), at::globalContext().userEnabledCuDNN()));
}
ADT_OP(layerNorm) {
  auto shape = a.ints(1);
  auto weight = a.optTensor(2);
  // Under autocast, libtorch 1.13's CPU layer norm refuses a bfloat16 input
  // with float32 weights; later versions normalise it in float32. Do that here.
  const at::Tensor& in = a.tensor(0);
  at::Tensor x = weight && weight->scalar_type() != in.scalar_type() ? in.to(weight->scalar_type()) : in;
  return W(a, at::layer_norm(x, iref(shape), weight, a.optTensor(3), a.num(4)));
}
ADT_OP(softmax) { return W(a, at::softmax(a.tensor(0), a.int64(1))); }
ADT_OP(logSoftmax) { return W(a, at::log_softmax(a.tensor(0), a.int64(1))); }
ADT_OP(crossEntropy) {
  // (logits, target, reduction: 'mean'|'sum'|'none', ignoreIndex, labelSmoothing)
  std::string r = a.str(2);
  int64_t red = r == "mean" ? at::Reduction::Mean : r == "sum" ? at::Reduction::Sum : at::Reduction::None;
  if (r != "mean" && r != "sum" && r != "none") a.fail(2, "must be 'mean', 'sum' or 'none'");
  return W(a, at::cross_entropy_loss(a.tensor(0), a.tensor(1), c10::nullopt, red, a.int64(3), a.num(4)));
}
ADT_OP(embedding) { return W(a, at::embedding(a.tensor(0), a.tensor(1))); }
ADT_OP(maxPool2d) {
  auto k = a.ints(1), s = a.ints(2), p = a.ints(3), d = a.ints(4);
  return W(a, at::max_pool2d(a.tensor(0), iref(k), iref(s), iref(p), iref(d), a.boolOr(5, false)));
}
ADT_OP(avgPool2d) {
  auto k = a.ints(1), s = a.ints(2), p = a.ints(3);
  return W(a, at::avg_pool2d(a.tensor(0), iref(k), iref(s), iref(p), a.boolOr(4, false), a.boolOr(5, true)));
}
ADT_OP(adaptiveAvgPool2d) {
  auto o = a.ints(1);
  return W(a, at::adaptive_avg_pool2d(a.tensor(0), iref(o)));
}
ADT_OP(dropout) { return W(a, at::dropout(a.tensor(0), a.num(1), a.boolean(2))); }
ADT_OP(affineGrid) {
  auto size = a.ints(1);
  return W(a, at::affine_grid_generator(a.tensor(0), iref(size), a.boolean(2)));
}
ADT_OP(gridSample) {
  // mode: bilinear 0, nearest 1, bicubic 2; padding: zeros 0, border 1, reflection 2
  std::string mode = a.str(2), pad = a.str(3);
  int64_t m = mode == "bilinear" ? 0 : mode == "nearest" ? 1 : mode == "bicubic" ? 2 : -1;
  int64_t p = pad == "zeros" ? 0 : pad == "border" ? 1 : pad == "reflection" ? 2 : -1;
  if (m < 0) a.fail(2, "must be 'bilinear', 'nearest' or 'bicubic'");
  if (p < 0) a.fail(3, "must be 'zeros', 'border' or 'reflection'");
  return W(a, at::grid_sampler(a.tensor(0), a.tensor(1), m, p, a.boolean(4)));
}

// ------------------------------------------------------------ reductions
// dims = null reduces over everything (keepdim then keeps every dim as 1, as variance does).
#define REDUCE(NAME, FN)                                                              \
  ADT_OP(NAME) {                                                                      \
    const at::Tensor& x = a.tensor(0);                                                \
    auto dims = a.optInts(1);                                                         \
    bool keepdim = a.boolOr(2, false);                                                \
    if (!dims && !keepdim) return W(a, FN(x));                                        \
    if (!dims) {                                                                      \
      dims.emplace(x.dim());                                                          \
      for (int64_t d = 0; d < x.dim(); ++d) (*dims)[d] = d;                           \
    }                                                                                 \
    return W(a, FN(x, iref(*dims), keepdim));                                         \
  }
REDUCE(sum, at::sum)
REDUCE(mean, at::mean)
REDUCE(amax, at::amax)
REDUCE(amin, at::amin)
#undef REDUCE
ADT_OP(logsumexp) { return W(a, at::logsumexp(a.tensor(0), iref(a.ints(1)), a.boolOr(2, false))); }
ADT_OP(argmax) { return W(a, at::argmax(a.tensor(0), a.int64(1), a.boolOr(2, false))); }
ADT_OP(argmin) { return W(a, at::argmin(a.tensor(0), a.int64(1), a.boolOr(2, false))); }
ADT_OP(variance) {
  auto dims = a.optInts(1);
  at::OptionalIntArrayRef d = dims ? at::OptionalIntArrayRef(iref(*dims)) : c10::nullopt;
  const bool unbiased = a.boolOr(2, true);
  return W(a, at::var(a.tensor(0), d, unbiased, a.boolOr(3, false)));
}
ADT_OP(norm) { return W(a, at::norm(a.tensor(0), a.numOr(1, 2.0))); }
ADT_OP(cumsum) { return W(a, at::cumsum(a.tensor(0), a.int64(1))); }

// ------------------------------------------------------------ shape
ADT_OP(reshape) {
  auto s = a.ints(1);
  return W(a, at::reshape(a.tensor(0), iref(s)));
}
ADT_OP(permute) {
  auto s = a.ints(1);
  return W(a, a.tensor(0).permute(iref(s)));
}
ADT_OP(transpose) { return W(a, a.tensor(0).transpose(a.int64(1), a.int64(2))); }
ADT_OP(expand) {
  auto s = a.ints(1);
  return W(a, a.tensor(0).expand(iref(s)));
}
ADT_OP(repeat) {
  auto s = a.ints(1);
  return W(a, a.tensor(0).repeat(iref(s)));
}
ADT_OP(squeeze) { return W(a, a.tensor(0).squeeze(a.int64(1))); }
ADT_OP(unsqueeze) { return W(a, a.tensor(0).unsqueeze(a.int64(1))); }
ADT_OP(flatten) { return W(a, a.tensor(0).flatten(a.int64Or(1, 0), a.int64Or(2, -1))); }
ADT_OP(slice) {  // (x, dim, start, end, step)
  return W(a, a.tensor(0).slice(a.int64(1), a.int64(2), a.int64(3), a.int64Or(4, 1)));
}
ADT_OP(select) { return W(a, a.tensor(0).select(a.int64(1), a.int64(2))); }
ADT_OP(cat) { return W(a, at::cat(a.tensorList(0), a.int64(1))); }
ADT_OP(stack) { return W(a, at::stack(a.tensorList(0), a.int64(1))); }
ADT_OP(pad) {  // constant pad; pads are (last-dim left, right, 2nd-last left, right, ...)
  auto p = a.ints(1);
  return W(a, at::constant_pad_nd(a.tensor(0), iref(p), a.numOr(2, 0.0)));
}
ADT_OP(roll) {
  auto shifts = a.ints(1), dims = a.ints(2);
  return W(a, at::roll(a.tensor(0), iref(shifts), iref(dims)));
}
ADT_OP(flip) {
  auto dims = a.ints(1);
  return W(a, at::flip(a.tensor(0), iref(dims)));
}
ADT_OP(gather) { return W(a, at::gather(a.tensor(0), a.int64(1), a.tensor(2))); }
ADT_OP(indexSelect) { return W(a, at::index_select(a.tensor(0), a.int64(1), a.tensor(2))); }
ADT_OP(index) {  // advanced indexing x[i0, i1, ...]; null entries mean ':'
  if (!a.info[1].IsArray()) a.fail(1, "must be an array of Tensors or nulls");
  auto arr = a.info[1].As<Napi::Array>();
  c10::List<c10::optional<at::Tensor>> idx;
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    if (v.IsNull() || v.IsUndefined()) {
      idx.push_back(c10::nullopt);
    } else {
      if (!TensorWrap::Is(v)) a.fail(1, "must be an array of Tensors or nulls");
      auto* w = TensorWrap::Unwrap(v.As<Napi::Object>());
      // A disposed index is an undefined at::Tensor, which ATen reads as ':'.
      if (w->disposed) a.fail(1, "holds a disposed tensor at element " + std::to_string(k));
      idx.push_back(w->tensor);
    }
  }
  return W(a, at::index(a.tensor(0), idx));
}
ADT_OP(scatterAdd) { return W(a, at::scatter_add(a.tensor(0), a.int64(1), a.tensor(2), a.tensor(3))); }
ADT_OP(oneHot) { return W(a, at::one_hot(a.tensor(0), a.int64(1))); }
ADT_OP(triu) { return W(a, at::triu(a.tensor(0), a.int64Or(1, 0))); }
ADT_OP(tril) { return W(a, at::tril(a.tensor(0), a.int64Or(1, 0))); }

// ------------------------------------------------------------ autograd
ADT_OP(setRequiresGrad) {
  a.tensor(0).requires_grad_(a.boolean(1));
  return a.info[0];
}
ADT_OP(requiresGrad) { return Napi::Boolean::New(a.env(), a.tensor(0).requires_grad()); }
ADT_OP(backward) {
  a.tensor(0).backward(a.optTensor(1).value_or(at::Tensor()), a.boolOr(2, false));
  return a.env().Undefined();
}
ADT_OP(grad) {
  const at::Tensor& g = a.tensor(0).grad();
  if (!g.defined()) return a.env().Null();
  return W(a, g);
}
ADT_OP(zeroGrad) {
  for (auto& t : a.tensorList(0)) t.mutable_grad() = at::Tensor();
  return a.env().Undefined();
}
ADT_OP(setGradEnabled) {
  at::GradMode::set_enabled(a.boolean(0));
  return a.env().Undefined();
}
ADT_OP(isGradEnabled) { return Napi::Boolean::New(a.env(), at::GradMode::is_enabled()); }
ADT_OP(clipGradNorm) {
  auto params = a.tensorList(0);
  double total = torch::nn::utils::clip_grad_norm_(params, a.num(1), a.numOr(2, 2.0));
  return Napi::Number::New(a.env(), total);
}

// ------------------------------------------------------------ autocast
// Mixed precision as torch.autocast does it: a thread-local switch under
// which the dispatcher runs the ops autocast lists (convolutions, matmuls,
// linear) in bfloat16 or float16, casting their float32 weights once per
// region (the cast cache, emptied when the outermost region ends). The
// weights, their gradients and the optimizer state stay float32.
// libtorch 2.4 replaced the per-device functions with ones taking a device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
static void setAutocast(at::DeviceType d, bool on, at::ScalarType t) {
  at::autocast::set_autocast_enabled(d, on);
  if (on) at::autocast::set_autocast_dtype(d, t);
}
#else
static void setAutocast(at::DeviceType d, bool on, at::ScalarType t) {
  if (d == at::kCUDA) {
    at::autocast::set_enabled(on);
    if (on) at::autocast::set_autocast_gpu_dtype(t);
  } else {
    at::autocast::set_cpu_enabled(on);
    if (on) at::autocast::set_autocast_cpu_dtype(t);
  }
}
#endif
static at::DeviceType autocastDevice(const adt::Args& a, size_t i) {
  std::string d = a.str(i);
  if (d != "cpu" && d != "cuda") a.fail(i, "must be 'cpu' or 'cuda'");
  return d == "cuda" ? at::kCUDA : at::kCPU;
}
ADT_OP(autocastEnter) {  // (deviceType 'cpu'|'cuda', dtype 'bfloat16'|'float16')
  at::DeviceType d = autocastDevice(a, 0);
  at::ScalarType t = a.dtype(1);
  if (t != at::kBFloat16 && t != at::kHalf) a.fail(1, "must be 'bfloat16' or 'float16'");
  setAutocast(d, true, t);
  at::autocast::increment_nesting();
  return a.env().Undefined();
}
ADT_OP(autocastExit) {  // (deviceType)
  setAutocast(autocastDevice(a, 0), false, at::kFloat);
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  return a.env().Undefined();
}

// ------------------------------------------------------------ runtime
// OpenBLAS (Debian's libopenblas0-pthread, which libtorch's matmuls call)
// keeps a thread pool of its own, sized to the machine's cores, that
// at::set_num_threads does not reach: a process told to use one thread still
// ran every matmul on all cores, and where other processes kept those cores
// busy (workers beside the coordinator, two workers on two cores) its threads
// spun waiting for each other. Its setter is looked up at run time, so other
// BLAS libraries (MKL follows at::set_num_threads already) need nothing.
void* openblasSymbol(const char* name) {
  if (void* f = dlsym(RTLD_DEFAULT, name)) return f;
  // libtorch's own dependencies are not in the global scope of an addon loaded RTLD_LOCAL.
  for (const char* lib : {"libblas.so.3", "libopenblas.so.0"}) {
    if (void* h = dlopen(lib, RTLD_LAZY | RTLD_NOLOAD)) {
      void* f = dlsym(h, name);
      dlclose(h);
      if (f) return f;
    }
  }
  return nullptr;
}
ADT_OP(setNumThreads) {
  int n = static_cast<int>(a.int64(0));
  at::set_num_threads(n);
  if (auto set = reinterpret_cast<void (*)(int)>(openblasSymbol("openblas_set_num_threads"))) set(n);
  return a.env().Undefined();
}
ADT_OP(getNumThreads) { return Napi::Number::New(a.env(), at::get_num_threads()); }
// OpenBLAS's thread count, or -1 when libtorch's BLAS is not OpenBLAS.
ADT_OP(blasThreads) {
  auto get = reinterpret_cast<int (*)()>(openblasSymbol("openblas_get_num_threads"));
  return Napi::Number::New(a.env(), get ? get() : -1);
}
ADT_OP(liveTensorCount) { return Napi::Number::New(a.env(), static_cast<double>(g_liveTensors.load())); }
ADT_OP(runtimeInfo) {
  Napi::Object o = Napi::Object::New(a.env());
  o.Set("version", std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                       std::to_string(TORCH_VERSION_PATCH));
  o.Set("config", at::show_config());
  o.Set("parallelInfo", at::get_parallel_info());
  o.Set("cudaAvailable", torch::cuda::is_available());
  o.Set("cudaDeviceCount", static_cast<double>(torch::cuda::device_count()));
  o.Set("mkldnnAvailable", at::hasMKLDNN());
  return o;
}

}  // namespace

void InitOps(Napi::Env env, Napi::Object exports) {
#define EXPORT(NAME) exports.Set(#NAME, Napi::Function::New(env, NAME, #NAME));
  EXPORT(zeros) EXPORT(ones) EXPORT(full) EXPORT(arange) EXPORT(eye) EXPORT(fromTypedArray) EXPORT(toArrayBuffer)
  EXPORT(item) EXPORT(rand) EXPORT(randn) EXPORT(randint) EXPORT(randperm) EXPORT(bernoulli) EXPORT(bernoulliScalar)
  EXPORT(manualSeed)
  EXPORT(neg) EXPORT(exp) EXPORT(log) EXPORT(log1p) EXPORT(sqrt) EXPORT(rsqrt) EXPORT(abs) EXPORT(sign) EXPORT(square)
  EXPORT(reciprocal) EXPORT(floor) EXPORT(ceil) EXPORT(round) EXPORT(sin) EXPORT(cos) EXPORT(erf) EXPORT(relu)
  EXPORT(silu) EXPORT(sigmoid) EXPORT(tanh) EXPORT(logicalNot) EXPORT(isnan) EXPORT(isfinite) EXPORT(contiguous)
  EXPORT(clone) EXPORT(detach) EXPORT(gelu) EXPORT(leakyRelu) EXPORT(clamp)
  EXPORT(add) EXPORT(sub) EXPORT(mul) EXPORT(div) EXPORT(pow) EXPORT(eq) EXPORT(ne) EXPORT(lt) EXPORT(le) EXPORT(gt)
  EXPORT(ge) EXPORT(remainder) EXPORT(maximum) EXPORT(minimum) EXPORT(logicalAnd) EXPORT(logicalOr) EXPORT(where)
  EXPORT(maskedFill) EXPORT(to) EXPORT(copy_) EXPORT(fill_) EXPORT(mulScalar_) EXPORT(addScaled_)
  EXPORT(matmul) EXPORT(bmm) EXPORT(linear)
  EXPORT(conv2d) EXPORT(batchNorm) EXPORT(layerNorm) EXPORT(softmax) EXPORT(logSoftmax) EXPORT(crossEntropy)
  EXPORT(embedding) EXPORT(maxPool2d) EXPORT(avgPool2d) EXPORT(adaptiveAvgPool2d) EXPORT(dropout) EXPORT(affineGrid)
  EXPORT(gridSample)
  EXPORT(sum) EXPORT(mean) EXPORT(amax) EXPORT(amin) EXPORT(logsumexp) EXPORT(argmax) EXPORT(argmin) EXPORT(variance)
  EXPORT(norm) EXPORT(cumsum)
  EXPORT(reshape) EXPORT(permute) EXPORT(transpose) EXPORT(expand) EXPORT(repeat) EXPORT(squeeze) EXPORT(unsqueeze)
  EXPORT(flatten) EXPORT(slice) EXPORT(select) EXPORT(cat) EXPORT(stack) EXPORT(pad) EXPORT(roll) EXPORT(flip)
  EXPORT(gather) EXPORT(indexSelect) EXPORT(index) EXPORT(scatterAdd) EXPORT(oneHot) EXPORT(triu) EXPORT(tril)
  EXPORT(setRequiresGrad) EXPORT(requiresGrad) EXPORT(backward) EXPORT(grad) EXPORT(zeroGrad) EXPORT(setGradEnabled)
  EXPORT(isGradEnabled) EXPORT(clipGradNorm)
  EXPORT(autocastEnter) EXPORT(autocastExit)
  EXPORT(setNumThreads) EXPORT(getNumThreads) EXPORT(blasThreads) EXPORT(liveTensorCount) EXPORT(runtimeInfo)
#undef EXPORT
}

}  // namespace adt
