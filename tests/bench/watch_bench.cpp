// `gpuorch reconcile --watch` against an in-process sandbox. Not a timed
// test: run by hand and recorded in docs/benchmarks.md.
//
//   bench_watch GPUORCH latency [--rate 100] [--seconds 30] [--nodes 500] [-- ARGS...]
//     Workloads created at a steady rate through the API; the latency from
//     each workload's creation to its Job's creation, both seen in the
//     store's own change stream: p50, p90, p99, max. Also who used the CPU
//     while the workloads were submitted (the loop, the sandbox API server
//     hosted in this process, and this driver's submitters and observer) and
//     the writes per workload by kind, as the store saw them.
//
//   bench_watch GPUORCH memory [--workloads 50000] [--nodes 5000] [-- ARGS...]
//     The loop's peak RSS with that many (finished) workloads and nodes
//     cached, against an empty cluster's, and the bytes per cached object.
//
// ARGS are passed to `gpuorch reconcile --watch -A` (e.g. --workers 8).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>

#include "bench_args.hpp"
#include "harness.hpp"

namespace {

using namespace gpuorch;
using namespace gpuorch::chaos;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Options {
  std::string gpuorch;
  std::string mode;
  double rate = 100;
  int seconds = 30;
  int nodes = -1;
  int workloads = 50000;
  std::vector<std::string> extra;
};

Options parse(int argc, char** argv) {
  Options o;
  auto args = bench::parse_bench_args(argc, argv,
                                      {{"--rate", [&](const std::string& v) { o.rate = std::stod(v); }},
                                       {"--seconds", [&](const std::string& v) { o.seconds = std::stoi(v); }},
                                       {"--nodes", [&](const std::string& v) { o.nodes = std::stoi(v); }},
                                       {"--workloads", [&](const std::string& v) { o.workloads = std::stoi(v); }}});
  const auto& positional = args.positional;
  o.extra = std::move(args.extra);
  if (positional.size() != 2 || (positional[1] != "latency" && positional[1] != "memory")) {
    throw std::runtime_error("usage: bench_watch GPUORCH latency|memory [flags] [-- ARGS...]");
  }
  o.gpuorch = positional[0];
  o.mode = positional[1];
  if (o.nodes < 0) {
    o.nodes = o.mode == "latency" ? 500 : 5000;
  }
  return o;
}

json workload(const std::string& name, int gpus) {
  return {{"apiVersion", "gpuorch.io/v1alpha1"},
          {"kind", "GPUWorkload"},
          {"metadata", {{"name", name}, {"namespace", "bench"}}},
          {"spec",
           {{"modelName", "llama-3-8b"},
            {"gpuCount", gpus},
            {"image", "ghcr.io/acme/train:1.4"},
            {"retryPolicy", {{"maxRetries", 0}, {"backoffSeconds", 1}, {"maxBackoffSeconds", 1}}}}}};
}

// Waits until the loop's log says its caches are synced (or it exited).
bool wait_for_sync(const std::filesystem::path& log, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    std::ifstream in(log);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("caches synced") != std::string::npos) {
        return true;
      }
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  return false;
}

std::vector<std::string> loop_args(const Options& o) {
  std::vector<std::string> args = {"--watch",        "-A",          "--lease-namespace", "bench",
                                   "--metrics-addr", "127.0.0.1:0", "--health-addr",     "127.0.0.1:0"};
  args.insert(args.end(), o.extra.begin(), o.extra.end());
  return args;
}

// The peak RSS of a running process in KiB (VmHWM of /proc/PID/status). Not
// getrusage of the child: posix_spawn's child shares this process's memory
// until it execs, so its ru_maxrss counts this process (and its sandbox) too.
long peak_rss_kib(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return -1;
}

// CPU seconds (user + system) a process has used so far (/proc/PID/stat), -1 when unreadable.
double process_cpu_seconds(pid_t pid) {
  // stdio, not a stream iterator: GCC 12 -O2 warns about the latter.
  std::FILE* f = std::fopen(fmt::format("/proc/{}/stat", pid).c_str(), "r");
  if (f == nullptr) {
    return -1;
  }
  char buf[1024];
  const std::size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // Fields after the command name (which may hold spaces) start after its ')'.
  const std::string line(buf, n);
  const auto close = line.rfind(')');
  if (close == std::string::npos) {
    return -1;
  }
  std::istringstream in(line.substr(close + 2));
  std::string field;
  double utime = 0;
  double stime = 0;
  // state is field 3; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) {
      utime = std::stod(field);
    } else if (i == 15) {
      stime = std::stod(field);
    }
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds of this whole process (every thread, the in-process sandbox included).
double self_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// CPU seconds of the calling thread.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// The 1-minute load average (/proc/loadavg), -1 when unreadable.
double load_average() {
  double load = -1;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r"); f != nullptr) {
    if (std::fscanf(f, "%lf", &load) != 1) {
      load = -1;
    }
    std::fclose(f);
  }
  return load;
}

// A lock-free sum of doubles (each driver thread adds its CPU once).
void add_to(std::atomic<double>& total, double v) {
  double cur = total.load();
  while (!total.compare_exchange_weak(cur, cur + v)) {
  }
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int run_latency(const Options& o) {
  TempDir dir;
  sandbox::SandboxOptions so;
  sandbox::NodePool pool;
  pool.name = "gpu";
  pool.count = o.nodes;
  pool.gpus_per_node = 8;
  so.cluster.pools = {pool};
  // Long enough that the cluster never fills: every workload can be placed at once.
  so.cluster.job_duration = milliseconds(2000);
  so.cluster.tick = milliseconds(20);
  so.watch_history = 1000000;
  auto started = Harness::start(so, dir.path());
  if (!started.ok()) {
    fmt::print(stderr, "cannot start the sandbox: {}\n", started.error().message());
    return 1;
  }
  Harness& h = **started;
  if (auto s = h.create_namespace("bench"); !s.ok()) {
    fmt::print(stderr, "{}\n", s.error().message());
    return 1;
  }
  auto& store = h.sandbox().store();
  auto wl_watch = store.watch(*store.find_type("gpuorch.io", "v1alpha1", "gpuworkloads"), "", {});
  auto job_watch = store.watch(*store.find_type("batch", "v1", "jobs"), "", {});
  auto event_watch = store.watch(*store.find_type("", "v1", "events"), "", {});
  auto pod_watch = store.watch(*store.find_type("", "v1", "pods"), "", {});
  if (!wl_watch.ok() || !job_watch.ok() || !event_watch.ok() || !pod_watch.ok()) {
    fmt::print(stderr, "cannot watch the store\n");
    return 1;
  }
  std::unordered_map<std::string, Clock::time_point> created;
  std::unordered_map<std::string, Clock::time_point> job_created;
  // Writes as the store saw them, by kind. A workload write that changed its
  // finalizers is the loop's finalizer patch; any other, a status write.
  struct Writes {
    std::int64_t finalizer = 0;
    std::int64_t status = 0;
    std::int64_t job_created = 0;
    std::int64_t job_modified = 0;
    std::int64_t event_created = 0;
    std::int64_t event_modified = 0;
    std::int64_t pod_created = 0;
    std::int64_t pod_modified = 0;
    std::int64_t sandbox_event = 0;
  } writes;
  std::unordered_map<std::string, std::size_t> finalizers;
  std::atomic<std::size_t> jobs_seen{0};
  std::atomic<bool> stop{false};
  std::atomic<double> driver_cpu{0};
  std::thread observer([&] {
    std::uint64_t seen = 0;
    while (!stop) {
      seen = store.wait_for_change(seen, milliseconds(5));
      const auto now = Clock::now();
      while (auto e = (*wl_watch)->next(milliseconds(0))) {
        const auto& meta = (*e->object)["metadata"];
        const auto name = meta.value("name", "");
        const auto it = meta.find("finalizers");
        const std::size_t count = it != meta.end() && it->is_array() ? it->size() : 0;
        if (e->type == "ADDED") {
          created.emplace(name, now);
          finalizers[name] = count;
        } else if (e->type == "MODIFIED") {
          auto& before = finalizers[name];
          ++(before != count ? writes.finalizer : writes.status);
          before = count;
        }
      }
      while (auto e = (*job_watch)->next(milliseconds(0))) {
        if (e->type == "ADDED") {
          ++writes.job_created;
          const auto& meta = (*e->object)["metadata"];
          std::string w;
          if (const auto labels = meta.find("labels"); labels != meta.end() && labels->is_object()) {
            w = labels->value("gpuorch.io/workload", "");
          }
          job_created.emplace(w, now);
          jobs_seen = job_created.size();
        } else if (e->type == "MODIFIED") {
          ++writes.job_modified;
        }
      }
      while (auto e = (*event_watch)->next(milliseconds(0))) {
        const auto& involved = (*e->object)["involvedObject"];
        if (involved.is_object() && involved.value("kind", "") == "GPUWorkload") {
          ++(e->type == "ADDED" ? writes.event_created : writes.event_modified);
        } else if (e->type == "ADDED") {
          ++writes.sandbox_event;  // the simulated scheduler's and kubelet's
        }
      }
      while (auto e = (*pod_watch)->next(milliseconds(0))) {
        if (e->type == "ADDED") {
          ++writes.pod_created;
        } else if (e->type == "MODIFIED") {
          ++writes.pod_modified;
        }
      }
    }
    add_to(driver_cpu, thread_cpu_seconds());
  });

  const auto log = dir.path() / "watch.log";
  ReconcileProcess loop(o.gpuorch, h.kubeconfig_path(), loop_args(o), log);
  if (!wait_for_sync(log, std::chrono::seconds(60))) {
    fmt::print(stderr, "the loop did not sync:\n{}", tail_file(log, 20));
    return 1;
  }
  const int total = static_cast<int>(o.rate * o.seconds);
  fmt::print("latency: {} workloads at {:.0f}/s on {} nodes x 8 GPUs, loop args:", total, o.rate, o.nodes);
  for (const auto& a : loop_args(o)) {
    fmt::print(" {}", a);
  }
  fmt::print("\n");
  std::fflush(stdout);
  // Four submitters, each paced to its share of the rate: one client alone
  // would be limited by its own request latency, not by the rate asked for.
  constexpr int k_submitters = 4;
  const double loop_cpu0 = process_cpu_seconds(loop.pid());
  const double self_cpu0 = self_cpu_seconds();
  const double main_cpu0 = thread_cpu_seconds();
  const auto t0 = Clock::now();
  const auto period = std::chrono::duration<double>(1.0 / o.rate);
  std::atomic<int> errors{0};
  std::vector<std::thread> submitters;
  for (int s = 0; s < k_submitters; ++s) {
    submitters.emplace_back([&, s] {
      for (int i = s; i < total; i += k_submitters) {
        std::this_thread::sleep_until(t0 + std::chrono::duration_cast<Clock::duration>(period * i));
        if (!h.create_workload(workload(fmt::format("w-{:06}", i), 1 + (i % 4))).ok()) {
          ++errors;
        }
      }
      add_to(driver_cpu, thread_cpu_seconds());
    });
  }
  for (auto& t : submitters) {
    t.join();
  }
  const double achieved = total / std::chrono::duration<double>(Clock::now() - t0).count();
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(100));
    if (jobs_seen >= static_cast<std::size_t>(total)) {
      break;
    }
  }
  std::this_thread::sleep_for(milliseconds(200));
  stop = true;
  observer.join();
  const double window = std::chrono::duration<double>(Clock::now() - t0).count();
  const double loop_cpu = process_cpu_seconds(loop.pid()) - loop_cpu0;
  add_to(driver_cpu, thread_cpu_seconds() - main_cpu0);
  // The sandbox is what this process used besides the driver's own threads.
  const double sandbox_cpu = self_cpu_seconds() - self_cpu0 - driver_cpu.load();
  const long rss_kib = peak_rss_kib(loop.pid());
  loop.send(SIGTERM);
  const PassResult r = loop.wait(std::chrono::seconds(3600));

  std::vector<double> latencies;
  for (const auto& [name, t] : created) {
    if (auto it = job_created.find(name); it != job_created.end()) {
      latencies.push_back(std::chrono::duration<double, std::milli>(it->second - t).count());
    }
  }
  fmt::print("submitted {} ({} errors) at {:.1f}/s achieved; Jobs created for {}\n", total, errors.load(), achieved,
             latencies.size());
  fmt::print("creation -> Job: p50 {:.0f} ms, p90 {:.0f} ms, p99 {:.0f} ms, max {:.0f} ms\n",
             percentile(latencies, 0.5), percentile(latencies, 0.9), percentile(latencies, 0.99),
             percentile(latencies, 1.0));
  fmt::print("loop: exit {}, peak RSS {:.1f} MiB, CPU {:.1f} s\n", r.exit_code, static_cast<double>(rss_kib) / 1024.0,
             static_cast<double>(r.cpu.count()) / 1000.0);
  fmt::print(
      "CPU from the first submission until every Job was seen ({:.1f} s, {:.2f} cores in all): loop {:.1f} s, "
      "sandbox {:.1f} s, driver (submitters, observer) {:.1f} s; load average {:.2f}\n",
      window, (loop_cpu + sandbox_cpu + driver_cpu.load()) / window, loop_cpu, sandbox_cpu, driver_cpu.load(),
      load_average());
  const double n = std::max(1, total);
  fmt::print(
      "writes per workload seen by the store: loop {:.2f} (finalizer {:.2f}, status {:.2f}, Job {:.2f}, Event {:.2f} "
      "created + {:.2f} updated); sandbox {:.2f} (pod {:.2f} created + {:.2f} updated, Job status {:.2f}, Event "
      "{:.2f})\n",
      static_cast<double>(writes.finalizer + writes.status + writes.job_created + writes.event_created +
                          writes.event_modified) /
          n,
      static_cast<double>(writes.finalizer) / n, static_cast<double>(writes.status) / n,
      static_cast<double>(writes.job_created) / n, static_cast<double>(writes.event_created) / n,
      static_cast<double>(writes.event_modified) / n,
      static_cast<double>(writes.pod_created + writes.pod_modified + writes.job_modified + writes.sandbox_event) / n,
      static_cast<double>(writes.pod_created) / n, static_cast<double>(writes.pod_modified) / n,
      static_cast<double>(writes.job_modified) / n, static_cast<double>(writes.sandbox_event) / n);
  fmt::print("{}", tail_file(log, 1));
  return latencies.size() == static_cast<std::size_t>(total) && r.exit_code == 0 ? 0 : 1;
}

// Peak RSS (KiB) of a loop over `workloads` finished workloads and `nodes` nodes.
Result<long> cached_rss(const Options& o, int workloads, int nodes, double& sync_seconds) {
  TempDir dir;
  sandbox::SandboxOptions so;
  if (nodes > 0) {
    sandbox::NodePool pool;
    pool.name = "gpu";
    pool.count = nodes;
    pool.gpus_per_node = 8;
    so.cluster.pools = {pool};
  }
  so.cluster.tick = milliseconds(100);
  GPUORCH_ASSIGN_OR_RETURN(auto h, Harness::start(so, dir.path()));
  GPUORCH_TRY(h->create_namespace("bench"));
  auto& store = h->sandbox().store();
  const auto type = *store.find_type("gpuorch.io", "v1alpha1", "gpuworkloads");
  for (int i = 0; i < workloads; ++i) {
    json w = workload(fmt::format("w-{:06}", i), 1 + (i % 8));
    w["metadata"]["finalizers"] = json::array({"gpuorch.io/cleanup"});
    GPUORCH_TRY(h->create_workload_in_store(w));
    // Finished: the loop caches them and has nothing to write.
    GPUORCH_ASSIGN_OR_RETURN(auto done, store.mutate(type, "bench", w["metadata"]["name"].get<std::string>(),
                                                     sandbox::Subresource::status, "bench", [&](json& obj) {
                                                       obj["status"] = {{"phase", "Succeeded"},
                                                                        {"message", "Job completed"},
                                                                        {"retryCount", 0},
                                                                        {"jobName", obj["metadata"]["name"]},
                                                                        {"assignedNode", "gpu-node-0001"}};
                                                       return true;
                                                     }));
    (void)done;
  }
  const auto log = dir.path() / "watch.log";
  const auto t0 = Clock::now();
  ReconcileProcess loop(o.gpuorch, h->kubeconfig_path(), loop_args(o), log);
  if (!wait_for_sync(log, std::chrono::seconds(300))) {
    return Error(ErrorCode::timeout, "the loop did not sync:\n" + tail_file(log, 20));
  }
  sync_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  // Let the workers go through every key once (no writes: all finished).
  std::this_thread::sleep_for(std::chrono::seconds(5));
  const long rss_kib = peak_rss_kib(loop.pid());
  loop.send(SIGTERM);
  const PassResult r = loop.wait(std::chrono::seconds(3600));
  if (r.exit_code != 0) {
    return Error(ErrorCode::internal, fmt::format("the loop exited {}:\n{}", r.exit_code, tail_file(log, 20)));
  }
  return rss_kib;
}

int run_memory(const Options& o) {
  double base_sync = 0;
  double sync = 0;
  auto base = cached_rss(o, 0, 0, base_sync);
  if (!base.ok()) {
    fmt::print(stderr, "{}\n", base.error().message());
    return 1;
  }
  auto full = cached_rss(o, o.workloads, o.nodes, sync);
  if (!full.ok()) {
    fmt::print(stderr, "{}\n", full.error().message());
    return 1;
  }
  const double base_mib = static_cast<double>(*base) / 1024.0;
  const double full_mib = static_cast<double>(*full) / 1024.0;
  const double objects = static_cast<double>(o.workloads + o.nodes);
  fmt::print("memory: {} workloads + {} nodes cached\n", o.workloads, o.nodes);
  fmt::print(
      "peak RSS {:.1f} MiB (empty cluster {:.1f} MiB); {:.0f} bytes per cached object; caches synced in {:.1f} s\n",
      full_mib, base_mib, (full_mib - base_mib) * 1024 * 1024 / objects, sync);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    return o.mode == "latency" ? run_latency(o) : run_memory(o);
  } catch (const std::exception& e) {
    std::cerr << "bench_watch: " << e.what() << "\n";
    return 1;
  }
}
