// Tensor and Generator handles, argument parsing and error translation.
#include <cstdlib>
#include <new>
#include <sstream>

#include "common.h"

#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace adt {

std::atomic<int64_t> g_liveTensors{0};
Napi::FunctionReference TensorWrap::constructor;
Napi::FunctionReference GeneratorWrap::constructor;

// ---------------------------------------------------------------- dtypes
at::ScalarType parseDtype(const std::string& s) {
  if (s == "float32") return at::kFloat;
  if (s == "float64") return at::kDouble;
  if (s == "int32") return at::kInt;
  if (s == "int64") return at::kLong;
  if (s == "uint8") return at::kByte;
  if (s == "bool") return at::kBool;
  if (s == "bfloat16") return at::kBFloat16;
  if (s == "float16") return at::kHalf;
  throw std::invalid_argument("unknown dtype '" + s +
                              "' (expected float32, float64, int32, int64, uint8, bool, bfloat16 or float16)");
}

std::string dtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kInt: return "int32";
    case at::kLong: return "int64";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    default: return c10::toString(t);
  }
}

at::Device parseDevice(const std::string& s) { return at::Device(s); }

// ---------------------------------------------------------------- errors
static std::string describeArg(const Napi::Value& v) {
  if (TensorWrap::Is(v)) {
    auto* w = TensorWrap::Unwrap(v.As<Napi::Object>());
    if (w->disposed) return "<disposed tensor>";
    std::ostringstream os;
    os << "[";
    auto sizes = w->tensor.sizes();
    for (size_t i = 0; i < sizes.size(); ++i) os << (i ? "," : "") << sizes[i];
    os << "] " << dtypeName(w->tensor.scalar_type());
    return os.str();
  }
  if (v.IsArray()) {
    auto arr = v.As<Napi::Array>();
    bool anyTensor = false;
    for (uint32_t i = 0; i < arr.Length(); ++i) anyTensor |= TensorWrap::Is(arr.Get(i));
    if (anyTensor) {
      std::string s = "(";
      for (uint32_t i = 0; i < arr.Length(); ++i) s += (i ? ", " : "") + describeArg(arr.Get(i));
      return s + ")";
    }
  }
  return "";
}

void rethrow(const Napi::CallbackInfo& info, const char* op, const std::string& what) {
  std::string shapes;
  for (size_t i = 0; i < info.Length(); ++i) {
    std::string d = describeArg(info[i]);
    if (!d.empty()) shapes += (shapes.empty() ? "" : ", ") + d;
  }
  // libtorch messages can carry several lines of context; the first is the cause.
  std::string first = what.substr(0, what.find('\n'));
  std::string msg = std::string(op) + ": " + first;
  if (!shapes.empty()) msg += " (tensor arguments: " + shapes + ")";
  throw Napi::Error::New(info.Env(), msg);
}

// ---------------------------------------------------------------- Args
void Args::fail(size_t i, const std::string& what) const {
  throw Napi::TypeError::New(env(), std::string(op) + ": argument " + std::to_string(i) + " " + what);
}
bool Args::isMissing(size_t i) const { return i >= info.Length() || info[i].IsUndefined() || info[i].IsNull(); }
bool Args::isTensor(size_t i) const { return i < info.Length() && TensorWrap::Is(info[i]); }

const at::Tensor& Args::tensor(size_t i) const {
  if (!isTensor(i)) fail(i, "must be a Tensor");
  auto* w = TensorWrap::Unwrap(info[i].As<Napi::Object>());
  if (w->disposed) fail(i, "is a tensor that was already disposed (it was freed by a scope or dispose())");
  return w->tensor;
}
c10::optional<at::Tensor> Args::optTensor(size_t i) const {
  if (isMissing(i)) return c10::nullopt;
  return tensor(i);
}
std::vector<at::Tensor> Args::tensorList(size_t i) const {
  if (i >= info.Length() || !info[i].IsArray()) fail(i, "must be an array of Tensors");
  auto arr = info[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    if (!TensorWrap::Is(v)) fail(i, "must be an array of Tensors (element " + std::to_string(k) + " is not)");
    auto* w = TensorWrap::Unwrap(v.As<Napi::Object>());
    if (w->disposed) fail(i, "holds a disposed tensor at element " + std::to_string(k));
    out.push_back(w->tensor);
  }
  return out;
}
double Args::num(size_t i) const {
  if (i >= info.Length() || !info[i].IsNumber()) fail(i, "must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}
double Args::numOr(size_t i, double d) const { return isMissing(i) ? d : num(i); }
int64_t Args::int64(size_t i) const {
  double v = num(i);
  if (v != static_cast<double>(static_cast<int64_t>(v))) fail(i, "must be an integer");
  return static_cast<int64_t>(v);
}
int64_t Args::int64Or(size_t i, int64_t d) const { return isMissing(i) ? d : int64(i); }
bool Args::boolean(size_t i) const {
  if (i >= info.Length() || !info[i].IsBoolean()) fail(i, "must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}
bool Args::boolOr(size_t i, bool d) const { return isMissing(i) ? d : boolean(i); }
std::string Args::str(size_t i) const {
  if (i >= info.Length() || !info[i].IsString()) fail(i, "must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}
std::vector<int64_t> Args::ints(size_t i) const {
  if (i >= info.Length() || !info[i].IsArray()) fail(i, "must be an array of integers");
  auto arr = info[i].As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    if (!v.IsNumber()) fail(i, "must be an array of integers");
    out[k] = v.As<Napi::Number>().Int64Value();
  }
  return out;
}
c10::optional<std::vector<int64_t>> Args::optInts(size_t i) const {
  if (isMissing(i)) return c10::nullopt;
  return ints(i);
}
at::ScalarType Args::dtype(size_t i) const { return parseDtype(str(i)); }
at::Device Args::device(size_t i) const { return isMissing(i) ? at::Device(at::kCPU) : parseDevice(str(i)); }
c10::optional<at::Generator> Args::generator(size_t i) const {
  if (isMissing(i)) return c10::nullopt;
  if (!info[i].IsObject() || !info[i].As<Napi::Object>().InstanceOf(GeneratorWrap::constructor.Value()))
    fail(i, "must be a Generator");
  return GeneratorWrap::Unwrap(info[i].As<Napi::Object>())->gen;
}

// ---------------------------------------------------------------- TensorWrap
void TensorWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = DefineClass(env, "Tensor",
                                 {InstanceMethod("shape", &TensorWrap::Shape),
                                  InstanceMethod("dtype", &TensorWrap::Dtype),
                                  InstanceMethod("device", &TensorWrap::Device),
                                  InstanceMethod("dispose", &TensorWrap::Dispose),
                                  InstanceMethod("isDisposed", &TensorWrap::IsDisposed)});
  constructor = Napi::Persistent(f);
  constructor.SuppressDestruct();
  exports.Set("Tensor", f);
}

Napi::Object TensorWrap::Wrap(Napi::Env env, at::Tensor t) {
  Napi::Object obj = constructor.New({});
  auto* w = Unwrap(obj);
  w->tensor = std::move(t);
  return obj;
}

bool TensorWrap::Is(const Napi::Value& v) {
  return v.IsObject() && v.As<Napi::Object>().InstanceOf(constructor.Value());
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorWrap>(info) { ++g_liveTensors; }
TensorWrap::~TensorWrap() {
  if (!disposed) --g_liveTensors;
}

// An undefined at::Tensor (after dispose) would answer shape [0] and a bogus
// dtype, and device() throws a c10::Error that would abort the process here
// (these methods are outside ADT_OP's try/catch): refuse instead.
static void checkLive(const Napi::CallbackInfo& info, bool disposed, const char* what) {
  if (disposed)
    throw Napi::Error::New(info.Env(), std::string("Tensor.") + what +
                                           ": the tensor was already disposed (it was freed by a scope or dispose())");
}

Napi::Value TensorWrap::Shape(const Napi::CallbackInfo& info) {
  checkLive(info, disposed, "shape");
  auto sizes = tensor.sizes();
  Napi::Array out = Napi::Array::New(info.Env(), sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), sizes[i]));
  return out;
}
Napi::Value TensorWrap::Dtype(const Napi::CallbackInfo& info) {
  checkLive(info, disposed, "dtype");
  return Napi::String::New(info.Env(), dtypeName(tensor.scalar_type()));
}
Napi::Value TensorWrap::Device(const Napi::CallbackInfo& info) {
  checkLive(info, disposed, "device");
  return Napi::String::New(info.Env(), tensor.device().str());
}
Napi::Value TensorWrap::Dispose(const Napi::CallbackInfo& info) {
  if (!disposed) {
    tensor = at::Tensor();
    disposed = true;
    --g_liveTensors;
  }
  return info.Env().Undefined();
}
Napi::Value TensorWrap::IsDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed); }

// ---------------------------------------------------------------- GeneratorWrap
void GeneratorWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = DefineClass(env, "Generator",
                                 {InstanceMethod("getState", &GeneratorWrap::GetState),
                                  InstanceMethod("setState", &GeneratorWrap::SetState),
                                  InstanceMethod("seed", &GeneratorWrap::Seed)});
  constructor = Napi::Persistent(f);
  constructor.SuppressDestruct();
  exports.Set("Generator", f);
}

GeneratorWrap::GeneratorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GeneratorWrap>(info) {
  uint64_t seed = 0;
  if (info.Length() > 0 && info[0].IsNumber()) seed = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  gen = at::detail::createCPUGenerator(seed);
}
Napi::Value GeneratorWrap::GetState(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  at::Tensor s = gen.get_state();
  auto buf = Napi::Buffer<uint8_t>::Copy(info.Env(), s.data_ptr<uint8_t>(), s.numel());
  return buf;
}
Napi::Value GeneratorWrap::SetState(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBuffer()) throw Napi::TypeError::New(info.Env(), "Generator.setState: expects a Buffer");
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  at::Tensor s = at::empty({static_cast<int64_t>(buf.Length())}, at::kByte);
  std::memcpy(s.data_ptr<uint8_t>(), buf.Data(), buf.Length());
  try {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(s);
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), std::string("Generator.setState: ") + e.what_without_backtrace());
  }
  return info.Env().Undefined();
}
Napi::Value GeneratorWrap::Seed(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_current_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
  return info.Env().Undefined();
}

}  // namespace adt

// CPU memory for tensors. libtorch's default allocator calls posix_memalign,
// and glibc (2.36, Debian 12) never serves an aligned request from a free
// chunk of exactly the requested size: it asks for size + alignment + a few
// bytes. A training step frees and re-requests the same activation sizes, so
// the freed blocks are passed over, the heap grows by about one activation a
// step and every step's activations land on fresh pages (test/engine/
// memory.test.ts watches resident memory; the README's Patterns section
// compares steps with ADT_MALLOC_TUNING=0). This allocator asks plain
// malloc for size + 64 and aligns inside the block, so a freed block fits the
// next request of its size exactly; with glibc's mmap threshold and trimming
// raised, freed memory stays mapped and the next step reuses it.
// ADT_MALLOC_TUNING=0 keeps libtorch's allocator and glibc's defaults.
namespace {

constexpr size_t kAlignment = 64;  // what libtorch's own allocator guarantees

// The block malloc returned sits in the word just before the aligned data, so
// the data pointer alone frees it (oneDNN frees through raw_deleter()).
void freeAligned(void* data) {
  if (data) std::free(static_cast<void**>(data)[-1]);
}

// libtorch 2.3 made Allocator::allocate non-const and added a pure virtual
// copy_data (used by Allocator::clone); 1.13 (Debian's) has neither.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define ADT_ALLOCATE_CONST
#define ADT_ALLOCATOR_HAS_COPY_DATA 1
#else
#define ADT_ALLOCATE_CONST const
#define ADT_ALLOCATOR_HAS_COPY_DATA 0
#endif

struct ReusingCPUAllocator final : public at::Allocator {
  at::DataPtr allocate(size_t nbytes) ADT_ALLOCATE_CONST override {
    if (nbytes == 0) return {nullptr, nullptr, &freeAligned, at::Device(at::kCPU)};
    void* raw = std::malloc(nbytes + kAlignment + sizeof(void*));
    if (!raw) throw std::bad_alloc();
    const auto first = reinterpret_cast<uintptr_t>(raw) + sizeof(void*);
    void* data = reinterpret_cast<void*>((first + kAlignment - 1) & ~static_cast<uintptr_t>(kAlignment - 1));
    static_cast<void**>(data)[-1] = raw;
    return {data, data, &freeAligned, at::Device(at::kCPU)};
  }
  at::DeleterFnPtr raw_deleter() const override { return &freeAligned; }
#if ADT_ALLOCATOR_HAS_COPY_DATA
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#endif
};

ReusingCPUAllocator g_cpuAllocator;

}  // namespace

static void tuneAllocator() {
#ifdef __GLIBC__
  const char* off = std::getenv("ADT_MALLOC_TUNING");
  if (off && std::string(off) == "0") return;
  mallopt(M_MMAP_THRESHOLD, 256 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
  mallopt(M_TOP_PAD, 64 * 1024 * 1024);
  c10::SetCPUAllocator(&g_cpuAllocator, /*priority=*/1);
#endif
}

static Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  tuneAllocator();
  adt::TensorWrap::Init(env, exports);
  adt::GeneratorWrap::Init(env, exports);
  adt::InitOps(env, exports);
  adt::InitOptim(env, exports);
  adt::InitFused(env, exports);
  return exports;
}

NODE_API_MODULE(autodropout_torch, InitAll)
