// mmo_native: thread placement, thread names and per-thread CPU time for the
// calling thread. Node-API, so one build loads in the main thread and in every
// worker thread (each environment gets its own module instance; no globals).
//
// Every call acts on the *calling* OS thread, which for JavaScript is the
// thread whose event loop runs the call: the main thread or a worker.
// Errors are returned as errno values (0 = ok), never thrown: the TypeScript
// wrapper turns them into statuses or coded errors.

#include <napi.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <vector>

namespace {

// Largest CPU number accepted. Linux's default NR_CPUS on x86_64 is 8192.
constexpr int kMaxCpu = 8192;

pid_t CurrentTid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

double TimespecSeconds(const struct timespec& ts) {
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// setAffinity(cpus: number[]): errno. Pins the calling thread to exactly these CPUs.
Napi::Value SetAffinity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) return Napi::Number::New(env, EINVAL);
  Napi::Array list = info[0].As<Napi::Array>();
  const uint32_t n = list.Length();
  if (n == 0) return Napi::Number::New(env, EINVAL);
  std::vector<int> cpus;
  cpus.reserve(n);
  int maxCpu = 0;
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsNumber()) return Napi::Number::New(env, EINVAL);
    const int cpu = v.As<Napi::Number>().Int32Value();
    if (cpu < 0 || cpu >= kMaxCpu) return Napi::Number::New(env, EINVAL);
    cpus.push_back(cpu);
    if (cpu > maxCpu) maxCpu = cpu;
  }
  cpu_set_t* set = CPU_ALLOC(maxCpu + 1);
  if (set == nullptr) return Napi::Number::New(env, ENOMEM);
  const size_t size = CPU_ALLOC_SIZE(maxCpu + 1);
  CPU_ZERO_S(size, set);
  for (int cpu : cpus) CPU_SET_S(cpu, size, set);
  // pid 0 = the calling thread (sched_setaffinity is per thread on Linux).
  const int rc = sched_setaffinity(0, size, set);
  const int err = rc == 0 ? 0 : errno;
  CPU_FREE(set);
  return Napi::Number::New(env, err);
}

// getAffinity(): number[] | number. The CPUs the calling thread may run on, or an errno.
Napi::Value GetAffinity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  for (int count = 1024; count <= kMaxCpu; count *= 2) {
    cpu_set_t* set = CPU_ALLOC(count);
    if (set == nullptr) return Napi::Number::New(env, ENOMEM);
    const size_t size = CPU_ALLOC_SIZE(count);
    CPU_ZERO_S(size, set);
    if (sched_getaffinity(0, size, set) != 0) {
      const int err = errno;
      CPU_FREE(set);
      if (err == EINVAL) continue;  // the kernel's mask is wider: retry bigger
      return Napi::Number::New(env, err);
    }
    Napi::Array out = Napi::Array::New(env);
    uint32_t k = 0;
    for (int cpu = 0; cpu < count; cpu++) {
      if (CPU_ISSET_S(cpu, size, set)) out.Set(k++, Napi::Number::New(env, cpu));
    }
    CPU_FREE(set);
    return out;
  }
  return Napi::Number::New(env, EINVAL);
}

// setName(name: string): errno. Linux keeps 15 bytes plus the NUL; longer is ERANGE.
Napi::Value SetName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return Napi::Number::New(env, EINVAL);
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  return Napi::Number::New(env, pthread_setname_np(pthread_self(), name.c_str()));
}

// getName(): string. The calling thread's name (its /proc/self/task/<tid>/comm).
Napi::Value GetName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  char buf[64] = {0};
  const int rc = pthread_getname_np(pthread_self(), buf, sizeof buf);
  if (rc != 0) return Napi::Number::New(env, rc);
  return Napi::String::New(env, buf);
}

// threadCpuSeconds(): number. CPU time (user + system) consumed by the calling thread.
Napi::Value ThreadCpuSeconds(const Napi::CallbackInfo& info) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return Napi::Number::New(info.Env(), -1);
  return Napi::Number::New(info.Env(), TimespecSeconds(ts));
}

// threadCpuInto(target: Float64Array, index: number): boolean. Stores the
// calling thread's CPU seconds in target[index] and returns true; false on a
// bad argument. Returns no number, so it allocates no heap number: for
// publishing once per tick into the shared table.
Napi::Value ThreadCpuInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsNumber()) return Napi::Boolean::New(env, false);
  if (info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) return Napi::Boolean::New(env, false);
  // The typed array's own data pointer: works for SharedArrayBuffer-backed
  // arrays, whose buffer napi_get_arraybuffer_info would refuse.
  Napi::Float64Array target = info[0].As<Napi::Float64Array>();
  const int64_t index = info[1].As<Napi::Number>().Int64Value();
  if (index < 0 || static_cast<size_t>(index) >= target.ElementLength()) return Napi::Boolean::New(env, false);
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return Napi::Boolean::New(env, false);
  target.Data()[index] = TimespecSeconds(ts);
  return Napi::Boolean::New(env, true);
}

// threadCpuSecondsOf(tid: number): number. CPU time of another thread of this
// process, or -1 when there is no such thread here. The kernel lets any thread
// read a sibling's CPU clock; the clock id encoding is glibc's
// MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED), which pthread_getcpuclockid uses.
Napi::Value ThreadCpuSecondsOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return Napi::Number::New(env, -1);
  const int64_t tid = info[0].As<Napi::Number>().Int64Value();
  if (tid <= 0 || tid > 0x3fffffff) return Napi::Number::New(env, -1);
  constexpr clockid_t kPerThread = 4;  // CPUCLOCK_PERTHREAD_MASK
  constexpr clockid_t kSched = 2;      // CPUCLOCK_SCHED: sum_exec_runtime, as CLOCK_THREAD_CPUTIME_ID
  const clockid_t clock = static_cast<clockid_t>((~static_cast<uint32_t>(tid)) << 3) | kPerThread | kSched;
  struct timespec ts;
  if (clock_gettime(clock, &ts) != 0) return Napi::Number::New(env, -1);
  return Napi::Number::New(env, TimespecSeconds(ts));
}

// gettid(): number. The calling thread's kernel thread id (/proc/<pid>/task/<tid>).
Napi::Value GetTid(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), CurrentTid()); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setAffinity", Napi::Function::New(env, SetAffinity, "setAffinity"));
  exports.Set("getAffinity", Napi::Function::New(env, GetAffinity, "getAffinity"));
  exports.Set("setName", Napi::Function::New(env, SetName, "setName"));
  exports.Set("getName", Napi::Function::New(env, GetName, "getName"));
  exports.Set("threadCpuSeconds", Napi::Function::New(env, ThreadCpuSeconds, "threadCpuSeconds"));
  exports.Set("threadCpuInto", Napi::Function::New(env, ThreadCpuInto, "threadCpuInto"));
  exports.Set("threadCpuSecondsOf", Napi::Function::New(env, ThreadCpuSecondsOf, "threadCpuSecondsOf"));
  exports.Set("gettid", Napi::Function::New(env, GetTid, "gettid"));
  exports.Set("clockTicksPerSecond", Napi::Number::New(env, static_cast<double>(sysconf(_SC_CLK_TCK))));
  exports.Set("abiVersion", Napi::Number::New(env, 2));
  return exports;
}

}  // namespace

NODE_API_MODULE(mmo_native, Init)
