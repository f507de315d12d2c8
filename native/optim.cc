// libtorch's own optimizers (SGD with Nesterov momentum, Adam, AdamW) behind
// one handle, plus (de)serialisation of their state to a Buffer.
#include <sstream>

#include "common.h"

namespace adt {
namespace {

class OptimizerWrap : public Napi::ObjectWrap<OptimizerWrap> {
 public:
  static Napi::FunctionReference constructor;

  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "Optimizer",
                                   {InstanceMethod("step", &OptimizerWrap::Step),
                                    InstanceMethod("zeroGrad", &OptimizerWrap::ZeroGrad),
                                    InstanceMethod("setLr", &OptimizerWrap::SetLr),
                                    InstanceMethod("getLr", &OptimizerWrap::GetLr),
                                    InstanceMethod("saveState", &OptimizerWrap::SaveState),
                                    InstanceMethod("loadState", &OptimizerWrap::LoadState)});
    constructor = Napi::Persistent(f);
    constructor.SuppressDestruct();
    exports.Set("Optimizer", f);
  }

  // new Optimizer(kind, params, options)
  explicit OptimizerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<OptimizerWrap>(info) {
    Args a{info, "Optimizer"};
    std::string kind = a.str(0);
    std::vector<at::Tensor> params = a.tensorList(1);
    if (info.Length() < 3 || !info[2].IsObject()) a.fail(2, "must be an options object");
    Napi::Object o = info[2].As<Napi::Object>();
    auto num = [&](const char* k, double d) {
      Napi::Value v = o.Get(k);
      return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : d;
    };
    auto flag = [&](const char* k, bool d) {
      Napi::Value v = o.Get(k);
      return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : d;
    };
    double lr = num("lr", 1e-3);
    try {
      if (kind == "sgd") {
        opt_ = std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(lr)
                                                               .momentum(num("momentum", 0))
                                                               .dampening(num("dampening", 0))
                                                               .weight_decay(num("weightDecay", 0))
                                                               .nesterov(flag("nesterov", false)));
      } else if (kind == "adam" || kind == "adamw") {
        auto betas = std::make_tuple(num("beta1", 0.9), num("beta2", 0.999));
        if (kind == "adam")
          opt_ = std::make_unique<torch::optim::Adam>(
              params, torch::optim::AdamOptions(lr).betas(betas).eps(num("eps", 1e-8)).weight_decay(num("weightDecay", 0)));
        else
          opt_ = std::make_unique<torch::optim::AdamW>(
              params,
              torch::optim::AdamWOptions(lr).betas(betas).eps(num("eps", 1e-8)).weight_decay(num("weightDecay", 1e-2)));
      } else {
        a.fail(0, "must be 'sgd', 'adam' or 'adamw', got '" + kind + "'");
      }
    } catch (const c10::Error& e) {
      rethrow(info, "Optimizer", e.what_without_backtrace());
    }
  }

 private:
  std::unique_ptr<torch::optim::Optimizer> opt_;

  Napi::Value Step(const Napi::CallbackInfo& info) {
    try {
      opt_->step();
    } catch (const c10::Error& e) {
      rethrow(info, "Optimizer.step", e.what_without_backtrace());
    }
    return info.Env().Undefined();
  }
  Napi::Value ZeroGrad(const Napi::CallbackInfo& info) {
    opt_->zero_grad();
    return info.Env().Undefined();
  }
  Napi::Value SetLr(const Napi::CallbackInfo& info) {
    double lr = Args{info, "Optimizer.setLr"}.num(0);
    for (auto& g : opt_->param_groups()) g.options().set_lr(lr);
    return info.Env().Undefined();
  }
  Napi::Value GetLr(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), opt_->param_groups().at(0).options().get_lr());
  }
  Napi::Value SaveState(const Napi::CallbackInfo& info) {
    torch::serialize::OutputArchive archive;
    opt_->save(archive);
    std::ostringstream os;
    archive.save_to(os);
    std::string s = os.str();
    return Napi::Buffer<char>::Copy(info.Env(), s.data(), s.size());
  }
  Napi::Value LoadState(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsBuffer())
      throw Napi::TypeError::New(info.Env(), "Optimizer.loadState: expects a Buffer");
    auto buf = info[0].As<Napi::Buffer<char>>();
    try {
      torch::serialize::InputArchive archive;
      archive.load_from(buf.Data(), buf.Length());
      opt_->load(archive);
    } catch (const c10::Error& e) {
      rethrow(info, "Optimizer.loadState", e.what_without_backtrace());
    }
    return info.Env().Undefined();
  }
};

Napi::FunctionReference OptimizerWrap::constructor;

}  // namespace

void InitOptim(Napi::Env env, Napi::Object exports) { OptimizerWrap::Init(env, exports); }

}  // namespace adt
