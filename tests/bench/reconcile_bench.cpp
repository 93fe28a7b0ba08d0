// One `gpuorch reconcile` pass over many pending workloads on a large
// sandbox cluster: wall time, CPU, peak RSS, and the API requests it made by
// verb (writes per workload, list calls). Not a timed test: run by hand and
// recorded in docs/benchmarks.md.
//
//   bench_reconcile GPUORCH [--workloads 10000] [--nodes 1000] [--gpus-per-node 8] [--seed N] [-- ARGS...]
//
// ARGS are passed to `gpuorch reconcile` after `-A`.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bench_args.hpp"
#include "harness.hpp"

namespace {

using namespace gpuorch;
using namespace gpuorch::chaos;
using nlohmann::json;

struct Options {
  std::string gpuorch;
  int workloads = 10000;
  int nodes = 1000;
  int gpus_per_node = 8;
  std::uint64_t seed = 7;
  std::vector<std::string> extra;
};

Options parse(int argc, char** argv) {
  Options o;
  auto args =
      bench::parse_bench_args(argc, argv,
                              {{"--workloads", [&](const std::string& v) { o.workloads = std::stoi(v); }},
                               {"--nodes", [&](const std::string& v) { o.nodes = std::stoi(v); }},
                               {"--gpus-per-node", [&](const std::string& v) { o.gpus_per_node = std::stoi(v); }},
                               {"--seed", [&](const std::string& v) { o.seed = std::stoull(v); }}});
  if (args.positional.size() != 1) {
    throw std::runtime_error(
        "usage: bench_reconcile GPUORCH [--workloads N] [--nodes N] [--gpus-per-node N] [--seed N] [-- ARGS...]");
  }
  o.gpuorch = args.positional[0];
  o.extra = std::move(args.extra);
  return o;
}

bool is_write(const std::string& verb) {
  return verb == "create" || verb == "update" || verb == "patch" || verb == "delete" || verb == "deletecollection";
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    TempDir dir;
    sandbox::SandboxOptions so;
    sandbox::NodePool pool;
    pool.name = "gpu";
    pool.count = o.nodes;
    pool.gpus_per_node = o.gpus_per_node;
    pool.price = "2.5";
    so.cluster.pools = {pool};
    so.cluster.job_duration = std::chrono::hours(1);  // nothing finishes during the pass
    so.cluster.seed = o.seed;
    so.watch_history = 1000000;
    auto started = Harness::start(so, dir.path());
    if (!started.ok()) {
      std::cerr << "cannot start the sandbox: " << started.error().message() << "\n";
      return 1;
    }
    Harness& h = **started;
    // The pass takes its Lease there, as in a real cluster.
    if (auto s = h.create_namespace("gpuorch-system"); !s.ok()) {
      std::cerr << s.error().message() << "\n";
      return 1;
    }
    // The workloads go straight into the store: setting up is not measured.
    std::mt19937_64 rng(o.seed);
    for (int i = 0; i < o.workloads; ++i) {
      json w = make_workload(rng, "default", fmt::format("bench-{:05}", i));
      if (auto s = h.create_workload_in_store(w); !s.ok()) {
        std::cerr << s.error().message() << "\n";
        return 1;
      }
    }
    const auto before = h.sandbox().faults().requests();
    std::vector<std::string> args = {"-A"};
    args.insert(args.end(), o.extra.begin(), o.extra.end());
    ReconcileProcess pass(o.gpuorch, h.kubeconfig_path(), args, dir.path() / "pass.log");
    const PassResult r = pass.wait();
    const auto after = h.sandbox().faults().requests();

    std::map<std::string, std::uint64_t> by_verb;
    std::map<std::string, std::uint64_t> by_key;
    std::uint64_t writes = 0;
    std::uint64_t lease_writes = 0;
    std::uint64_t lists = 0;
    std::uint64_t total = 0;
    for (const auto& [key, n_after] : after) {
      const std::uint64_t n = n_after - (before.contains(key) ? before.at(key) : 0);
      if (n == 0) {
        continue;
      }
      by_key[key] = n;
      const std::string verb = key.substr(0, key.find(' '));
      by_verb[verb] += n;
      total += n;
      writes += is_write(verb) ? n : 0;
      lease_writes += is_write(verb) && key.find("leases") != std::string::npos ? n : 0;
      lists += verb == "list" ? n : 0;
    }
    std::map<std::string, int> phases;
    for (const auto& w : h.workloads()) {
      ++phases[w.value("status", json::object()).value("phase", "<none>")];
    }
    fmt::print("bench_reconcile: {} pending workloads, {} nodes x {} GPUs, seed {}\n", o.workloads, o.nodes,
               o.gpus_per_node, o.seed);
    fmt::print("pass: exit {}, wall {:.2f} s, cpu {:.2f} s, peak RSS {:.1f} MiB\n", r.exit_code,
               static_cast<double>(r.duration.count()) / 1000.0, static_cast<double>(r.cpu.count()) / 1000.0,
               static_cast<double>(r.max_rss_kib) / 1024.0);
    fmt::print("requests: {} total, {} writes ({:.2f} per workload; {} of them the Lease's), {} lists\n", total, writes,
               static_cast<double>(writes) / o.workloads, lease_writes, lists);
    for (const auto& [key, n] : by_key) {
      fmt::print("  {:<40} {}\n", key, n);
    }
    std::string phase_text;
    for (const auto& [phase, n] : phases) {
      phase_text += fmt::format(" {} {}", phase, n);
    }
    fmt::print("phases after the pass:{}\n", phase_text);
    if (r.exit_code != 0) {
      std::cerr << tail_file(dir.path() / "pass.log", 20);
    }
    return r.exit_code == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "bench_reconcile: " << e.what() << "\n";
    return 1;
  }
}
