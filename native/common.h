// Shared pieces of the libtorch binding: the Tensor and Generator wrappers and
// argument helpers. The binding mirrors ATen one for one; all policy (scopes,
// models, algorithms) lives in TypeScript (src/engine/).
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <atomic>
#include <string>
#include <vector>

namespace adt {

// Number of JS Tensor handles that still own an at::Tensor. Tests assert it
// stays flat across training loops (the JS side must free through scopes).
extern std::atomic<int64_t> g_liveTensors;

class TensorWrap : public Napi::ObjectWrap<TensorWrap> {
 public:
  static Napi::FunctionReference constructor;
  static void Init(Napi::Env env, Napi::Object exports);
  static Napi::Object Wrap(Napi::Env env, at::Tensor t);
  static bool Is(const Napi::Value& v);

  explicit TensorWrap(const Napi::CallbackInfo& info);
  ~TensorWrap() override;

  at::Tensor tensor;
  bool disposed = false;

 private:
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Dtype(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);
};

class GeneratorWrap : public Napi::ObjectWrap<GeneratorWrap> {
 public:
  static Napi::FunctionReference constructor;
  static void Init(Napi::Env env, Napi::Object exports);
  explicit GeneratorWrap(const Napi::CallbackInfo& info);
  at::Generator gen;

 private:
  Napi::Value GetState(const Napi::CallbackInfo& info);
  Napi::Value SetState(const Napi::CallbackInfo& info);
  Napi::Value Seed(const Napi::CallbackInfo& info);
};

// Argument conversion. Each throws a JS TypeError naming the op and argument.
struct Args {
  const Napi::CallbackInfo& info;
  const char* op;
  Napi::Env env() const { return info.Env(); }
  [[noreturn]] void fail(size_t i, const std::string& what) const;
  const at::Tensor& tensor(size_t i) const;
  c10::optional<at::Tensor> optTensor(size_t i) const;
  std::vector<at::Tensor> tensorList(size_t i) const;
  double num(size_t i) const;
  double numOr(size_t i, double dflt) const;
  int64_t int64(size_t i) const;
  int64_t int64Or(size_t i, int64_t dflt) const;
  bool boolean(size_t i) const;
  bool boolOr(size_t i, bool dflt) const;
  std::string str(size_t i) const;
  std::vector<int64_t> ints(size_t i) const;
  c10::optional<std::vector<int64_t>> optInts(size_t i) const;
  bool isTensor(size_t i) const;
  bool isMissing(size_t i) const;
  at::ScalarType dtype(size_t i) const;
  at::Device device(size_t i) const;
  c10::optional<at::Generator> generator(size_t i) const;
};

at::ScalarType parseDtype(const std::string& s);
std::string dtypeName(at::ScalarType t);
at::Device parseDevice(const std::string& s);

// Turns a libtorch exception into a JS Error that names the op and the shapes
// of every tensor argument, so a shape mismatch is a readable exception rather
// than a crash.
[[noreturn]] void rethrow(const Napi::CallbackInfo& info, const char* op, const std::string& what);

void InitOps(Napi::Env env, Napi::Object exports);
void InitOptim(Napi::Env env, Napi::Object exports);
void InitFused(Napi::Env env, Napi::Object exports);

}  // namespace adt

// Defines a JS-callable function whose body may throw libtorch errors.
#define ADT_OP(NAME)                                                      \
  static Napi::Value NAME##_impl(const adt::Args& a);                     \
  static Napi::Value NAME(const Napi::CallbackInfo& info) {               \
    adt::Args a{info, #NAME};                                             \
    try {                                                                 \
      return NAME##_impl(a);                                              \
    } catch (const Napi::Error&) {                                        \
      throw;                                                              \
    } catch (const c10::Error& e) {                                       \
      adt::rethrow(info, #NAME, e.what_without_backtrace());              \
    } catch (const std::exception& e) {                                   \
      adt::rethrow(info, #NAME, e.what());                                \
    }                                                                     \
  }                                                                       \
  static Napi::Value NAME##_impl(const adt::Args& a)
