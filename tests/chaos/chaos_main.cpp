// Correctness of `gpuorch reconcile` under faults, crashes and overlap,
// against an in-process sandbox whose store the invariant watcher follows
// change by change. Modes:
//
//   chaos_driver chaos    GPUORCH  -- many workloads, injected API faults and
//                                     job failures, passes back to back, the
//                                     reconciler SIGKILLed at random points
//   chaos_driver overlap  GPUORCH  -- two passes started at the same moment,
//                                     round after round
//   chaos_driver watch    GPUORCH  -- replicas of `gpuorch reconcile --watch`
//                                     under API faults, cut watch streams and
//                                     forced 410s while workloads arrive over
//                                     time; the leader SIGKILLed several times
//                                     (a standby takes over), then SIGTERM
//   chaos_driver watch-lease GPUORCH -- the same, shorter, with short lease
//                                     flags (3s/2s/500ms) and no help: a
//                                     standby takes over only through the
//                                     Lease's real expiry
//   chaos_driver selftest          -- the watcher catches violations it is
//                                     shown on purpose (so a clean run means
//                                     something)
//
// Sizes and the seed come from flags or the environment: GPUORCH_CHAOS_SEED,
// GPUORCH_CHAOS_FULL=1 (the long run), GPUORCH_CHAOS_WORKLOADS,
// GPUORCH_CHAOS_KILLS, GPUORCH_CHAOS_ROUNDS, GPUORCH_CHAOS_WATCH_WORKLOADS,
// GPUORCH_CHAOS_WATCH_KILLS, GPUORCH_CHAOS_WATCH_REPLICAS, GPUORCH_CHAOS_LEASE_WORKLOADS,
// GPUORCH_CHAOS_LEASE_KILLS, GPUORCH_CHAOS_KEEP=1 (keep the temporary directory
// with the pass logs).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <csignal>

#include <fmt/format.h>

#include "harness.hpp"
#include "invariant_watcher.hpp"

namespace {

using namespace gpuorch;
using namespace gpuorch::chaos;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): single-threaded at start
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

struct Options {
  std::string mode;
  std::string gpuorch;
  std::uint64_t seed = 20261129;
  int workloads = 500;
  int kills = 20;
  int rounds = 24;
  int timeout_seconds = 420;
  int watch_workloads = 1000;
  int watch_kills = 5;
  int watch_replicas = 2;
  int lease_workloads = 300;
  int lease_kills = 3;
  bool keep = false;
  std::vector<std::string> reconcile_args = {"-A"};
};

Options parse_options(int argc, char** argv) {
  Options o;
  const bool full = env_or("GPUORCH_CHAOS_FULL", "0") == "1";
  o.workloads = std::stoi(env_or("GPUORCH_CHAOS_WORKLOADS", full ? "3000" : "500"));
  o.kills = std::stoi(env_or("GPUORCH_CHAOS_KILLS", full ? "100" : "20"));
  o.rounds = std::stoi(env_or("GPUORCH_CHAOS_ROUNDS", full ? "100" : "24"));
  o.timeout_seconds = full ? 3600 : 420;
  o.watch_workloads = std::stoi(env_or("GPUORCH_CHAOS_WATCH_WORKLOADS", full ? "5000" : "1000"));
  o.watch_kills = std::stoi(env_or("GPUORCH_CHAOS_WATCH_KILLS", full ? "30" : "5"));
  o.watch_replicas = std::stoi(env_or("GPUORCH_CHAOS_WATCH_REPLICAS", "2"));
  o.lease_workloads = std::stoi(env_or("GPUORCH_CHAOS_LEASE_WORKLOADS", full ? "1000" : "300"));
  o.lease_kills = std::stoi(env_or("GPUORCH_CHAOS_LEASE_KILLS", full ? "10" : "3"));
  o.seed = std::stoull(env_or("GPUORCH_CHAOS_SEED", std::to_string(o.seed)));
  o.keep = env_or("GPUORCH_CHAOS_KEEP", "0") == "1";
  // Extra flags for every `gpuorch reconcile` pass, split at spaces.
  std::istringstream extra(env_or("GPUORCH_CHAOS_ARGS", ""));
  for (std::string word; extra >> word;) {
    o.reconcile_args.push_back(word);
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    throw std::runtime_error("usage: chaos_driver chaos|overlap|watch|watch-lease|selftest [GPUORCH_BINARY]");
  }
  o.mode = args[0];
  if (args.size() > 1) {
    o.gpuorch = args[1];
  }
  if (o.mode != "selftest" && o.gpuorch.empty()) {
    throw std::runtime_error("the " + o.mode + " mode needs the gpuorch binary as its second argument");
  }
  return o;
}

/// Phase of a workload object ("" before the first status write).
std::string phase_of(const json& w) {
  return w.value("status", json::object()).value("phase", "");
}

int retry_count_of(const json& w) {
  return w.value("status", json::object()).value("retryCount", 0);
}

int max_retries_of(const json& w) {
  return w["spec"].value("retryPolicy", json::object()).value("maxRetries", 3);
}

bool terminal(const json& w) {
  const std::string p = phase_of(w);
  return p == "Succeeded" || p == "Failed";
}

/// The end-of-run checks shared by the chaos and overlap modes. Returns the
/// problems found, in words.
std::vector<std::string> final_checks(Harness& h, InvariantWatcher& watcher, const std::set<std::string>& deleted,
                                      std::map<std::string, int>& phases) {
  std::vector<std::string> problems;
  // The garbage collector removes Jobs of deleted workloads in the background.
  const auto gc_deadline = Clock::now() + std::chrono::seconds(20);
  std::vector<json> orphans;
  do {
    orphans.clear();
    std::set<std::string> uids;
    for (const auto& w : h.workloads()) {
      uids.insert(w["metadata"].value("uid", ""));
    }
    for (const auto& j : h.jobs()) {
      bool owned = false;
      for (const auto& ref : j["metadata"].value("ownerReferences", json::array())) {
        owned = owned || (ref.value("kind", "") == "GPUWorkload" && uids.contains(ref.value("uid", "")));
      }
      if (!owned) {
        orphans.push_back(j);
      }
    }
    if (!orphans.empty()) {
      std::this_thread::sleep_for(milliseconds(100));
    }
  } while (!orphans.empty() && Clock::now() < gc_deadline);
  for (const auto& j : orphans) {
    problems.push_back(fmt::format("Job {}/{} has no workload", j["metadata"].value("namespace", ""),
                                   j["metadata"].value("name", "")));
  }
  watcher.catch_up();
  const auto histories = watcher.histories();
  std::map<std::string, const WorkloadHistory*> by_key;
  for (const auto& [uid, hist] : histories) {
    by_key[hist.key] = &hist;
  }
  for (const auto& w : h.workloads()) {
    const std::string key = w["metadata"].value("namespace", "") + "/" + w["metadata"].value("name", "");
    if (deleted.contains(key)) {
      problems.push_back(fmt::format("{} was deleted but still exists (finalizers {})", key,
                                     w["metadata"].value("finalizers", json::array()).dump()));
      continue;
    }
    const std::string phase = phase_of(w);
    ++phases[phase.empty() ? "<none>" : phase];
    if (!terminal(w)) {
      problems.push_back(fmt::format("{} ended the run {} ({})", key, phase.empty() ? "without a phase" : phase,
                                     w.value("status", json::object()).value("message", "")));
      continue;
    }
    const int retries = retry_count_of(w);
    const int max_retries = max_retries_of(w);
    const auto* hist = by_key.contains(key) ? by_key[key] : nullptr;
    const int attempts = hist != nullptr ? static_cast<int>(hist->job_names.size()) : 0;
    const int failed = hist != nullptr ? hist->jobs_failed : 0;
    const int complete = hist != nullptr ? hist->jobs_complete : 0;
    if (phase == "Failed" && retries != max_retries) {
      problems.push_back(fmt::format("{} Failed with retryCount {} but maxRetries {}", key, retries, max_retries));
    }
    if (retries > max_retries) {
      problems.push_back(fmt::format("{} has retryCount {} > maxRetries {}", key, retries, max_retries));
    }
    // Each attempt is one Job; a retry follows exactly one failed Job.
    if (attempts != retries + 1) {
      problems.push_back(fmt::format("{} ran {} Jobs for retryCount {}", key, attempts, retries));
    }
    const int want_failed = phase == "Failed" ? retries + 1 : retries;
    const int want_complete = phase == "Succeeded" ? 1 : 0;
    if (failed != want_failed || complete != want_complete) {
      problems.push_back(fmt::format("{} is {} after {} failed and {} complete Jobs (retryCount {})", key, phase,
                                     failed, complete, retries));
    }
  }
  for (const auto& key : deleted) {
    for (const auto& j : h.jobs()) {
      if (j["metadata"].value("namespace", "") + "/" +
              j["metadata"].value("labels", json::object()).value("gpuorch.io/workload", "") ==
          key) {
        problems.push_back(fmt::format("deleted {} still has Job {}", key, j["metadata"].value("name", "")));
      }
    }
  }
  return problems;
}

void print_report(const InvariantReport& r) {
  fmt::print("invariants: {} changes checked, {} Jobs created, peak {} live Jobs\n", r.events, r.jobs_created,
             r.peak_live_jobs);
  fmt::print(
      "duplicates = {}, over-commits = {}, wrong-node pods = {}, unschedulable pods = {}, unowned Jobs = {}, "
      "finalizer before Jobs = {}, phase regressions = {}\n",
      r.duplicate_violations, r.overcommit_violations, r.wrong_node_violations, r.unschedulable_violations,
      r.unowned_job_violations, r.early_finalizer_violations, r.regression_violations);
  for (const auto& e : r.examples) {
    fmt::print("  violation: {}\n", e);
  }
}

void print_problems(const std::vector<std::string>& problems) {
  constexpr std::size_t k_shown = 40;
  for (std::size_t i = 0; i < problems.size() && i < k_shown; ++i) {
    fmt::print("FAIL: {}\n", problems[i]);
  }
  if (problems.size() > k_shown) {
    fmt::print("FAIL: ... and {} more\n", problems.size() - k_shown);
  }
}

struct RequestCounts {
  std::uint64_t total = 0;
  std::uint64_t faults = 0;
};

RequestCounts request_counts(Harness& h) {
  RequestCounts c;
  for (const auto& [key, n] : h.sandbox().faults().requests()) {
    c.total += n;
  }
  for (const auto& [kind, n] : h.sandbox().faults().counters()) {
    if (kind != "watch-gone" && kind != "watch-cut") {
      c.faults += n;
    }
  }
  return c;
}

bool check_sandbox_stats(Harness& h, std::vector<std::string>& problems) {
  const json stats = h.sandbox().stats();
  const json cluster = stats["cluster"];
  fmt::print(
      "sandbox: {} binding checks, {} bindings, violations = {}, unschedulable = {}, pods {} succeeded {} failed\n",
      cluster.value("bindingChecks", 0), cluster.value("bindings", 0), cluster.value("violations", 0),
      cluster.value("unschedulable", 0), cluster.value("podsSucceeded", 0), cluster.value("podsFailed", 0));
  if (cluster.value("violations", 0) != 0) {
    problems.emplace_back("the sandbox found over-committed nodes after bindings");
  }
  if (cluster.value("unschedulable", 0) != 0) {
    problems.emplace_back("the sandbox's scheduler found gpuorch pods it could not place");
  }
  return problems.empty();
}

sandbox::FaultConfig chaos_faults(std::uint64_t seed) {
  sandbox::FaultConfig f;
  f.seed = seed;
  f.drop_rate = 0.03;
  auto rule = [](std::string verb, int code, double rate, int retry_after) {
    sandbox::ErrorRule r;
    r.verb = std::move(verb);
    r.resource = "*";
    r.code = code;
    r.rate = rate;
    r.retry_after_seconds = retry_after;
    return r;
  };
  f.errors = {rule("*", 500, 0.04, 0), rule("*", 503, 0.03, 0), rule("*", 429, 0.03, 0), rule("update", 409, 0.04, 0),
              rule("patch", 409, 0.04, 0)};
  return f;
}

/// The sandbox of the chaos and watch runs: H100 (8 GPUs) and A100 (4 GPUs)
/// pools, 300 ms Jobs failing at `failure_rate`, faults seeded like the run.
sandbox::SandboxOptions chaos_sandbox(std::uint64_t seed, int h100_nodes, int a100_nodes, double failure_rate,
                                      std::size_t watch_history) {
  sandbox::SandboxOptions so;
  sandbox::NodePool h100;
  h100.name = "h100";
  h100.count = h100_nodes;
  h100.gpus_per_node = 8;
  h100.gpu_model = "H100";
  h100.price = "3.9";
  sandbox::NodePool a100 = h100;
  a100.name = "a100";
  a100.count = a100_nodes;
  a100.gpus_per_node = 4;
  a100.gpu_model = "A100";
  a100.price = "1.7";
  so.cluster.pools = {h100, a100};
  so.cluster.job_duration = milliseconds(300);
  so.cluster.failure_rate = failure_rate;
  so.cluster.seed = seed;
  so.cluster.tick = milliseconds(20);
  so.watch_history = watch_history;
  so.faults.seed = seed;
  return so;
}

/// Starts the sandbox and creates the namespaces (gpuorch-system holds the
/// Lease of `gpuorch reconcile --lease-namespace`); nullptr after printing why.
std::unique_ptr<Harness> start_harness(const sandbox::SandboxOptions& so, const TempDir& dir,
                                       const std::vector<std::string>& namespaces) {
  auto started = Harness::start(so, dir.path());
  if (!started.ok()) {
    fmt::print(stderr, "cannot start the sandbox: {}\n", started.error().message());
    return nullptr;
  }
  for (const auto& ns : namespaces) {
    if (auto s = (*started)->create_namespace(ns); !s.ok()) {
      fmt::print(stderr, "{}\n", s.error().message());
      return nullptr;
    }
  }
  return std::move(*started);
}

/// Prints the final phases and the injected faults; returns the share of
/// requests that failed on purpose.
double print_phases_and_faults(Harness& h, const RequestCounts& requests, const std::map<std::string, int>& phases) {
  std::string phase_text;
  for (const auto& [phase, n] : phases) {
    phase_text += fmt::format(" {} {}", phase, n);
  }
  fmt::print("final phases:{}\n", phase_text);
  const double fault_share =
      requests.total > 0 ? static_cast<double>(requests.faults) / static_cast<double>(requests.total) : 0;
  fmt::print("requests = {}, faults injected = {} ({:.1f} %):", requests.total, requests.faults, fault_share * 100);
  for (const auto& [kind, n] : h.sandbox().faults().counters()) {
    fmt::print(" {} {}", kind, n);
  }
  fmt::print("\n");
  return fault_share;
}

/// The verdict of a run: its problems, PASS or FAIL (keeping the logs), and
/// the exit status.
int verdict(bool ok, const std::vector<std::string>& problems, TempDir& dir) {
  print_problems(problems);
  ok = ok && problems.empty();
  if (!ok) {
    dir.keep();
    fmt::print("FAIL: logs kept in {}\n", dir.path().string());
  }
  fmt::print("{}\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}

int run_chaos(const Options& o) {
  TempDir dir;
  if (o.keep) {
    dir.keep();
  }
  fmt::print("chaos: seed {} (GPUORCH_CHAOS_SEED), {} workloads, >= {} kills, dir {}\n", o.seed, o.workloads, o.kills,
             dir.path().string());
  std::fflush(stdout);
  const std::vector<std::string> namespaces = {"team-a", "team-b", "team-c"};
  auto harness = start_harness(chaos_sandbox(o.seed, 10, 10, 0.25, 500000), dir,
                               {"gpuorch-system", namespaces[0], namespaces[1], namespaces[2]});
  if (!harness) {
    return 1;
  }
  Harness& h = *harness;
  InvariantWatcher watcher(h.sandbox().store());
  watcher.start();

  std::mt19937_64 rng(o.seed);
  std::vector<json> workloads;
  std::set<std::string> to_delete;
  for (int i = 0; i < o.workloads; ++i) {
    const std::string ns = namespaces[static_cast<std::size_t>(i) % namespaces.size()];
    const std::string name = fmt::format("w-{:05}", i);
    workloads.push_back(make_workload(rng, ns, name));
    if (rng() % 100 < 5) {
      to_delete.insert(ns + "/" + name);
    }
  }
  h.sandbox().faults().set(chaos_faults(o.seed));

  // Half arrive before the first pass, the rest while passes run.
  const std::size_t upfront = workloads.size() / 2;
  std::atomic<bool> failed{false};
  auto create_range = [&](std::size_t from, std::size_t to, milliseconds gap) {
    for (std::size_t i = from; i < to && !failed; ++i) {
      if (auto s = h.create_workload(workloads[i]); !s.ok()) {
        fmt::print(stderr, "creating {}: {}\n", workloads[i]["metadata"]["name"].get<std::string>(),
                   s.error().message());
        failed = true;
      }
      std::this_thread::sleep_for(gap);
    }
  };
  create_range(0, upfront, milliseconds(0));
  std::thread creator([&] { create_range(upfront, workloads.size(), milliseconds(20)); });
  std::vector<std::string> deletions(to_delete.begin(), to_delete.end());
  std::shuffle(deletions.begin(), deletions.end(), rng);

  const std::vector<std::string>& reconcile_args = o.reconcile_args;
  int passes = 0;
  int kills = 0;
  int lease_expiries = 0;
  std::map<int, int> exit_codes;
  double estimate_ms = 800;
  std::size_t next_delete = 0;
  std::set<std::string> deleted;
  const auto deadline = Clock::now() + std::chrono::seconds(o.timeout_seconds);
  const auto start = Clock::now();
  std::string last_log;
  bool converged = false;
  while (!failed && Clock::now() < deadline) {
    // Deletions spread over the first passes, while the workloads are at all
    // stages: a few before every other pass.
    if (passes >= 2 && passes % 2 == 0) {
      const std::size_t batch = std::max<std::size_t>(1, to_delete.size() / 5);
      std::vector<std::string> later;
      for (std::size_t n = 0; n < batch && next_delete < deletions.size(); ++n) {
        const std::string key = deletions[next_delete++];
        const auto slash = key.find('/');
        const std::string ns = key.substr(0, slash);
        const std::string name = key.substr(slash + 1);
        // Only what exists already (the creator may not have reached it yet).
        bool exists = false;
        for (const auto& w : h.workloads()) {
          exists = exists || (w["metadata"]["namespace"] == ns && w["metadata"]["name"] == name);
        }
        if (!exists) {
          later.push_back(key);
          continue;
        }
        if (auto s = h.delete_workload(ns, name); !s.ok()) {
          fmt::print(stderr, "deleting {}: {}\n", key, s.error().message());
          return 1;
        }
        deleted.insert(key);
      }
      deletions.insert(deletions.end(), later.begin(), later.end());
    }
    const auto log = dir.path() / fmt::format("pass-{}.log", passes % 4);
    ReconcileProcess process(o.gpuorch, h.kubeconfig_path(), reconcile_args, log);
    std::optional<milliseconds> kill_at;
    if (kills < o.kills && rng() % 100 < 80) {
      kill_at = milliseconds(static_cast<long>(static_cast<double>(rng() % 1000) / 1000.0 * estimate_ms * 1.2));
    }
    const PassResult r = process.wait(kill_at);
    ++passes;
    last_log = log.string();
    if (r.killed) {
      ++kills;
      // The killed pass cannot release its Lease; time "passes" instead of waiting it out.
      lease_expiries += static_cast<int>(h.expire_leases());
    } else {
      ++exit_codes[r.exit_code];
      estimate_ms = 0.7 * estimate_ms + 0.3 * static_cast<double>(r.duration.count());
      if (r.exit_code != 0 && r.exit_code != 1) {
        fmt::print(stderr, "pass {} exited {}:\n{}", passes, r.exit_code, tail_file(log, 30));
        failed = true;
        break;
      }
    }
    if (creator.joinable() && !failed) {
      // keep going; the creator finishes on its own
    }
    const auto all = h.workloads();
    const bool created_all = all.size() + deleted.size() >= workloads.size();
    bool done = created_all && next_delete >= deletions.size() && kills >= o.kills;
    for (const auto& w : all) {
      const std::string key = w["metadata"].value("namespace", "") + "/" + w["metadata"].value("name", "");
      done = done && !deleted.contains(key) && terminal(w);
    }
    if (done) {
      converged = true;
      break;
    }
  }
  failed = failed || !converged;
  creator.join();
  const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  h.sandbox().faults().set(sandbox::FaultConfig{});
  watcher.stop();

  const RequestCounts requests = request_counts(h);
  std::map<std::string, int> phases;
  std::vector<std::string> problems = final_checks(h, watcher, deleted, phases);
  if (!converged) {
    problems.insert(problems.begin(), fmt::format("the run did not converge within {} s (last pass log follows)\n{}",
                                                  o.timeout_seconds, tail_file(last_log, 30)));
  }
  const InvariantReport report = watcher.report();
  fmt::print(
      "workloads = {} ({} deleted mid-run), passes = {}, kills = {}, leases expired after kills = {}, {:.1f} s\n",
      workloads.size(), deleted.size(), passes, kills, lease_expiries, static_cast<double>(elapsed.count()) / 1000.0);
  std::string codes;
  for (const auto& [code, n] : exit_codes) {
    codes += fmt::format(" exit {}: {}", code, n);
  }
  fmt::print("completed passes:{}\n", codes);
  const double fault_share = print_phases_and_faults(h, requests, phases);
  print_report(report);
  check_sandbox_stats(h, problems);
  if (fault_share < 0.10) {
    problems.push_back(fmt::format("only {:.1f} % of the requests failed; the test wants >= 10 %", fault_share * 100));
  }
  if (kills < o.kills) {
    problems.push_back(fmt::format("only {} kills", kills));
  }
  return verdict(!failed && report.violations() == 0, problems, dir);
}

int run_overlap(const Options& o) {
  TempDir dir;
  if (o.keep) {
    dir.keep();
  }
  fmt::print("overlap: seed {} (GPUORCH_CHAOS_SEED), {} rounds of two passes started together, dir {}\n", o.seed,
             o.rounds, dir.path().string());
  std::fflush(stdout);
  sandbox::SandboxOptions so;
  sandbox::NodePool pool;
  pool.name = "gpu";
  pool.count = 4;
  pool.gpus_per_node = 8;
  so.cluster.pools = {pool};
  so.cluster.job_duration = milliseconds(1500);
  so.cluster.seed = o.seed;
  so.cluster.tick = milliseconds(20);
  so.watch_history = 200000;
  auto harness = start_harness(so, dir, {"gpuorch-system", "overlap"});
  if (!harness) {
    return 1;
  }
  Harness& h = *harness;
  InvariantWatcher watcher(h.sandbox().store());
  watcher.start();
  std::mt19937_64 rng(o.seed);
  int next = 0;
  auto create_some = [&](int n) {
    for (int i = 0; i < n; ++i) {
      json w = make_workload(rng, "overlap", fmt::format("o-{:04}", next++));
      w["spec"]["retryPolicy"]["maxRetries"] = 0;
      if (auto s = h.create_workload(w); !s.ok()) {
        throw std::runtime_error(s.error().message());
      }
    }
  };
  std::map<int, int> exit_codes;
  const auto start = Clock::now();
  for (int round = 0; round < o.rounds; ++round) {
    create_some(6);
    // More arrive while both passes list, so their snapshots can differ:
    // without the Lease, each would place what the other does not see.
    std::thread late([&] { create_some(4); });
    ReconcileProcess a(o.gpuorch, h.kubeconfig_path(), o.reconcile_args,
                       dir.path() / fmt::format("round-{}-a.log", round % 3));
    ReconcileProcess b(o.gpuorch, h.kubeconfig_path(), o.reconcile_args,
                       dir.path() / fmt::format("round-{}-b.log", round % 3));
    const PassResult ra = a.wait();
    const PassResult rb = b.wait();
    late.join();
    ++exit_codes[ra.exit_code];
    ++exit_codes[rb.exit_code];
  }
  // Then one reconciler until everything is done.
  bool converged = false;
  const auto deadline = Clock::now() + std::chrono::seconds(o.timeout_seconds);
  while (Clock::now() < deadline) {
    ReconcileProcess p(o.gpuorch, h.kubeconfig_path(), o.reconcile_args, dir.path() / "final.log");
    const PassResult r = p.wait();
    ++exit_codes[r.exit_code];
    const auto all = h.workloads();
    if (std::all_of(all.begin(), all.end(), [](const json& w) { return terminal(w); })) {
      converged = true;
      break;
    }
    std::this_thread::sleep_for(milliseconds(200));
  }
  const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  watcher.stop();
  std::map<std::string, int> phases;
  std::vector<std::string> problems = final_checks(h, watcher, {}, phases);
  if (!converged) {
    problems.insert(problems.begin(), fmt::format("not every workload was terminal after {} s", o.timeout_seconds));
  }
  const InvariantReport report = watcher.report();
  std::string codes;
  for (const auto& [code, n] : exit_codes) {
    codes += fmt::format(" exit {}: {}", code, n);
    if (code != 0) {
      problems.push_back(fmt::format("{} passes exited {}", n, code));
    }
  }
  fmt::print("rounds = {}, workloads = {}, {:.1f} s, passes:{}\n", o.rounds, next,
             static_cast<double>(elapsed.count()) / 1000.0, codes);
  print_report(report);
  check_sandbox_stats(h, problems);
  return verdict(report.violations() == 0, problems, dir);
}

/// The watch loop: replicas of `gpuorch reconcile --watch` (one holds the
/// Lease, the others wait); the leader is SIGKILLed at random moments, its
/// Lease marked expired (as a standby finds it once the lease duration passed)
/// and a new replica started, while workloads arrive over time and some are
/// deleted; API faults, cut watch streams and 410s on re-watch all along. At
/// the end a SIGTERM must stop every replica with exit 0, and every invariant
/// of the one-shot chaos test must hold.
///
/// With `real_lease` (the watch-lease mode) nothing marks the Lease expired:
/// the replicas run with short lease flags and a standby takes over only once
/// the dead leader's Lease has really run out -- the path a production
/// takeover follows, timing included.
int run_watch_chaos(const Options& o, bool real_lease) {
  TempDir dir;
  if (o.keep) {
    dir.keep();
  }
  const int workload_count = real_lease ? o.lease_workloads : o.watch_workloads;
  const int kill_count = real_lease ? o.lease_kills : o.watch_kills;
  // The lease flags of the real-lease run: lease 3 s, renew deadline 2 s, retry 500 ms.
  constexpr auto k_lease = std::chrono::seconds(3);
  constexpr auto k_renew_deadline = std::chrono::seconds(2);
  fmt::print("{}: seed {} (GPUORCH_CHAOS_SEED), {} workloads, {} kills, dir {}\n", real_lease ? "watch-lease" : "watch",
             o.seed, workload_count, kill_count, dir.path().string());
  std::fflush(stdout);
  const std::vector<std::string> namespaces = {"team-a", "team-b", "team-c"};
  auto harness = start_harness(chaos_sandbox(o.seed, 16, 8, 0.2, 1000000), dir,
                               {"gpuorch-system", namespaces[0], namespaces[1], namespaces[2]});
  if (!harness) {
    return 1;
  }
  Harness& h = *harness;
  InvariantWatcher watcher(h.sandbox().store());
  watcher.start();

  std::mt19937_64 rng(o.seed);
  std::vector<json> workloads;
  std::vector<std::string> deletions;
  for (int i = 0; i < workload_count; ++i) {
    const std::string ns = namespaces[static_cast<std::size_t>(i) % namespaces.size()];
    const std::string name = fmt::format("w-{:05}", i);
    workloads.push_back(make_workload(rng, ns, name));
    if (rng() % 100 < 4) {
      deletions.push_back(ns + "/" + name);
    }
  }
  auto faults = chaos_faults(o.seed);
  faults.watch_cut_after_events = 150;
  faults.watch_cut_after = milliseconds(4000);
  faults.watch_gone_rate = 0.15;
  h.sandbox().faults().set(faults);

  // Workloads arrive over the whole run; deletions follow their creation.
  std::atomic<bool> failed{false};
  std::atomic<std::size_t> created{0};
  std::mutex deleted_mutex;
  std::set<std::string> deleted;
  const auto creation_start = Clock::now();
  std::thread creator([&] {
    const std::set<std::string> to_delete(deletions.begin(), deletions.end());
    std::vector<std::string> pending_deletes;
    for (std::size_t i = 0; i < workloads.size() && !failed; ++i) {
      if (auto s = h.create_workload(workloads[i]); !s.ok()) {
        fmt::print(stderr, "creating {}: {}\n", workloads[i]["metadata"]["name"].get<std::string>(),
                   s.error().message());
        failed = true;
        return;
      }
      created = i + 1;
      if (created == workloads.size()) {
        fmt::print("all {} workloads created after {:.1f} s\n", workloads.size(),
                   std::chrono::duration<double>(Clock::now() - creation_start).count());
      }
      const std::string key = workloads[i]["metadata"]["namespace"].get<std::string>() + "/" +
                              workloads[i]["metadata"]["name"].get<std::string>();
      if (to_delete.contains(key)) {
        pending_deletes.push_back(key);
      }
      // Delete a while after creation, at whatever stage the workload is then.
      if (pending_deletes.size() > 3 || (i + 1 == workloads.size() && !pending_deletes.empty())) {
        for (const auto& k : pending_deletes) {
          const auto slash = k.find('/');
          if (auto s = h.delete_workload(k.substr(0, slash), k.substr(slash + 1)); !s.ok()) {
            fmt::print(stderr, "deleting {}: {}\n", k, s.error().message());
            failed = true;
            return;
          }
          std::lock_guard lock(deleted_mutex);
          deleted.insert(k);
        }
        pending_deletes.clear();
      }
      std::this_thread::sleep_for(milliseconds(i % 50 == 0 ? 200 : 8));
    }
  });

  int kills = 0;
  int starts = 0;
  int lease_expiries = 0;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(o.timeout_seconds);
  std::vector<std::string> args = o.reconcile_args;
  for (const char* a :
       {"--watch", "--workers", "4", "--resync-period", "30s", "--kube-api-qps", "1000", "--kube-api-burst", "1000",
        // The endpoints on free loopback ports.
        "--metrics-addr", "127.0.0.1:0", "--health-addr", "127.0.0.1:0"}) {
    args.emplace_back(a);
  }
  if (real_lease) {
    for (const char* a : {"--leader-elect-lease-duration", "3s", "--leader-elect-renew-deadline", "2s",
                          "--leader-elect-retry-period", "500ms"}) {
      args.emplace_back(a);
    }
  }
  std::string last_log;
  std::optional<PassResult> final_result;
  bool converged = false;
  auto all_done = [&] {
    if (created < workloads.size()) {
      return false;
    }
    std::lock_guard lock(deleted_mutex);
    if (deleted.size() < deletions.size()) {
      return false;
    }
    for (const auto& w : h.workloads()) {
      const std::string key = w["metadata"].value("namespace", "") + "/" + w["metadata"].value("name", "");
      if (deleted.contains(key) || !terminal(w)) {
        return false;
      }
    }
    return true;
  };
  // Replicas: one holds the Lease and reconciles, the others wait for it.
  // The leader (the Lease's holder, named by POD_NAME) is the one killed.
  struct Replica {
    std::string id;
    std::filesystem::path log;
    std::unique_ptr<ReconcileProcess> process;
  };
  std::vector<Replica> replicas;
  int lease_losses = 0;
  std::vector<double> takeovers_ms;
  const auto spawn = [&] {
    Replica r;
    r.id = fmt::format("gpuorch-watch-{}", starts);
    r.log = dir.path() / fmt::format("{}.log", r.id);
    r.process = std::make_unique<ReconcileProcess>(o.gpuorch, h.kubeconfig_path(), args, r.log,
                                                   std::vector<std::string>{"POD_NAME=" + r.id});
    replicas.push_back(std::move(r));
    ++starts;
  };
  // A replica that exited on its own must have lost the Lease (exit 1, it
  // says so); it is replaced, as its Deployment would restart it.
  const auto reap = [&]() -> bool {
    for (auto it = replicas.begin(); it != replicas.end();) {
      if (it->process->running()) {
        ++it;
        continue;
      }
      const PassResult r = it->process->wait();
      const std::string tail = tail_file(it->log, 5);
      if (r.exit_code != 1 ||
          (tail.find("took the Lease") == std::string::npos && tail.find("lost the lease") == std::string::npos)) {
        fmt::print(stderr, "replica {} exited {} on its own:\n{}", it->id, r.exit_code, tail_file(it->log, 30));
        return false;
      }
      ++lease_losses;
      it = replicas.erase(it);
      spawn();
    }
    return true;
  };
  const auto leader_index = [&]() -> std::optional<std::size_t> {
    const std::string holder = h.lease_holder("gpuorch-system", "gpuorch-reconciler");
    for (std::size_t i = 0; i < replicas.size(); ++i) {
      if (replicas[i].id == holder) {
        return i;
      }
    }
    return std::nullopt;
  };
  for (int i = 0; i < o.watch_replicas; ++i) {
    spawn();
  }
  while (!failed && kills < kill_count && Clock::now() < deadline) {
    // The leader runs 1-5 s: killed while caches sync, while workers write,
    // while Jobs are being created.
    const auto kill_at = Clock::now() + milliseconds(1000 + static_cast<long>(rng() % 4000));
    while (Clock::now() < kill_at && !failed) {
      std::this_thread::sleep_for(milliseconds(50));
      failed = failed || !reap();
    }
    std::optional<std::size_t> leader;
    const auto wait_leader = Clock::now() + std::chrono::seconds(30);
    while (!failed && !(leader = leader_index()) && Clock::now() < wait_leader) {
      std::this_thread::sleep_for(milliseconds(20));
      failed = failed || !reap();
    }
    if (failed || !leader) {
      fmt::print(stderr, "no replica held the Lease within 30 s\n");
      failed = true;
      break;
    }
    const std::string killed_id = replicas[*leader].id;
    const PassResult r = replicas[*leader].process->wait(milliseconds(0));
    if (!r.killed) {
      fmt::print(stderr, "the leader {} exited {} before the kill:\n{}", killed_id, r.exit_code,
                 tail_file(replicas[*leader].log, 30));
      failed = true;
      break;
    }
    replicas.erase(replicas.begin() + static_cast<std::ptrdiff_t>(*leader));
    ++kills;
    const auto killed_at = Clock::now();
    if (!real_lease) {
      // As if the lease duration had passed since the dead leader's last renewal.
      lease_expiries += static_cast<int>(h.expire_leases());
    }
    spawn();
    // Takeover: a standby holds the Lease.
    while (Clock::now() - killed_at < std::chrono::seconds(30)) {
      const std::string holder = h.lease_holder("gpuorch-system", "gpuorch-reconciler");
      if (!holder.empty() && holder != killed_id) {
        takeovers_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - killed_at).count());
        break;
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
  }
  // Then the replicas run until every workload is terminal, and SIGTERM stops them all.
  while (!failed && Clock::now() < deadline && !all_done()) {
    std::this_thread::sleep_for(milliseconds(250));
    failed = failed || !reap();
  }
  converged = all_done();
  const auto term_at = Clock::now();
  bool all_zero = true;
  for (auto& r : replicas) {
    r.process->send(SIGTERM);
  }
  for (auto& r : replicas) {
    final_result =
        r.process->wait(std::chrono::duration_cast<milliseconds>(Clock::now() - start) + std::chrono::seconds(30));
    if (final_result->killed || final_result->exit_code != 0) {
      all_zero = false;
      fmt::print(stderr, "replica {} exited {} after SIGTERM:\n{}", r.id, final_result->exit_code,
                 tail_file(r.log, 20));
    }
    last_log = r.log.string();
    fmt::print("{}: {}", r.id, tail_file(r.log, 1));
  }
  fmt::print("SIGTERM to {} replicas: {} after {} ms\n", replicas.size(),
             all_zero ? "all exited 0" : "NOT all exited 0",
             std::chrono::duration_cast<milliseconds>(Clock::now() - term_at).count());
  if (!all_zero) {
    final_result->exit_code = final_result->exit_code == 0 ? 1 : final_result->exit_code;
  }
  if (!takeovers_ms.empty()) {
    fmt::print(
        "takeover after a leader kill: min {:.0f} ms, max {:.0f} ms, mean {:.0f} ms ({} kills, {})\n",
        *std::min_element(takeovers_ms.begin(), takeovers_ms.end()),
        *std::max_element(takeovers_ms.begin(), takeovers_ms.end()),
        std::accumulate(takeovers_ms.begin(), takeovers_ms.end(), 0.0) / static_cast<double>(takeovers_ms.size()),
        takeovers_ms.size(), real_lease ? "real lease expiry, lease 3s" : "lease marked expired");
  }
  if (real_lease) {
    // A live leader renewed at most a renew deadline before it was killed,
    // so its Lease cannot have run out sooner than lease - renew deadline
    // after the kill: a takeover before that took a Lease that was not free.
    const double earliest = std::chrono::duration<double, std::milli>(k_lease - k_renew_deadline).count();
    for (const double t : takeovers_ms) {
      if (t < earliest) {
        fmt::print(stderr, "a standby took over {:.0f} ms after the kill: before the Lease could have expired\n", t);
        failed = true;
      }
    }
  }
  if (static_cast<int>(takeovers_ms.size()) != kills) {
    fmt::print(stderr, "only {} of {} kills were followed by a takeover\n", takeovers_ms.size(), kills);
    failed = true;
  }
  creator.join();
  const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  h.sandbox().faults().set(sandbox::FaultConfig{});
  watcher.stop();

  const RequestCounts requests = request_counts(h);
  std::map<std::string, int> phases;
  std::set<std::string> deleted_copy;
  {
    std::lock_guard lock(deleted_mutex);
    deleted_copy = deleted;
  }
  std::vector<std::string> problems = final_checks(h, watcher, deleted_copy, phases);
  if (!converged) {
    problems.insert(problems.begin(), fmt::format("the run did not converge within {} s (last log follows)\n{}",
                                                  o.timeout_seconds, tail_file(last_log, 30)));
  }
  if (!final_result || final_result->killed || final_result->exit_code != 0) {
    problems.push_back(fmt::format("the watch loop did not exit 0 after SIGTERM (exit {})",
                                   final_result ? final_result->exit_code : -1));
  }
  const InvariantReport report = watcher.report();
  fmt::print(
      "workloads = {} ({} deleted mid-run), replicas = {}, controller starts = {}, leader kills = {}, leases "
      "expired after kills = {}, leases lost = {}, {:.1f} s\n",
      workloads.size(), deleted_copy.size(), o.watch_replicas, starts, kills, lease_expiries, lease_losses,
      static_cast<double>(elapsed.count()) / 1000.0);
  print_phases_and_faults(h, requests, phases);
  print_report(report);
  check_sandbox_stats(h, problems);
  const auto counters = h.sandbox().faults().counters();
  const auto count_of = [&](const std::string& kind) {
    const auto it = counters.find(kind);
    return it == counters.end() ? std::uint64_t{0} : it->second;
  };
  if (count_of("watch-cut") == 0 || count_of("watch-gone") == 0) {
    problems.emplace_back("no watch stream was cut or answered 410: the test did not test that");
  }
  if (kills < kill_count) {
    problems.push_back(fmt::format("only {} kills", kills));
  }
  return verdict(!failed && report.violations() == 0, problems, dir);
}

/// Shows the watcher each kind of violation on purpose; passes only when it
/// reports every one of them.
int run_selftest(const Options& /*o*/) {
  TempDir dir;
  sandbox::SandboxOptions so;
  sandbox::NodePool pool;
  pool.name = "gpu";
  pool.count = 2;
  pool.gpus_per_node = 4;
  so.cluster.pools = {pool};
  so.cluster.job_duration = milliseconds(60000);
  so.cluster.tick = milliseconds(20);
  auto started = Harness::start(so, dir.path());
  if (!started.ok()) {
    fmt::print(stderr, "cannot start the sandbox: {}\n", started.error().message());
    return 1;
  }
  Harness& h = **started;
  InvariantWatcher watcher(h.sandbox().store());
  watcher.start();
  auto& store = h.sandbox().store();
  const auto workload_type = *store.find_type("gpuorch.io", "v1alpha1", "gpuworkloads");
  const auto job_type = *store.find_type("batch", "v1", "jobs");
  std::mt19937_64 rng(1);
  json w = make_workload(rng, "default", "victim");
  w["metadata"]["finalizers"] = json::array();
  auto created = store.create(workload_type, "default", w);
  if (!created.ok()) {
    fmt::print(stderr, "{}\n", created.error().message());
    return 1;
  }
  const std::string uid = (*created)["metadata"]["uid"];
  auto job = [&](const std::string& name, int gpus, bool owned) {
    json j = {
        {"apiVersion", "batch/v1"},
        {"kind", "Job"},
        {"metadata", {{"name", name}, {"namespace", "default"}, {"labels", {{"gpuorch.io/workload", "victim"}}}}},
        {"spec",
         {{"backoffLimit", 0},
          {"template",
           {{"spec",
             {{"restartPolicy", "Never"},
              {"affinity",
               {{"nodeAffinity",
                 {{"requiredDuringSchedulingIgnoredDuringExecution",
                   {{"nodeSelectorTerms",
                     json::array({{{"matchFields", json::array({{{"key", "metadata.name"},
                                                                 {"operator", "In"},
                                                                 {"values", json::array({"gpu-node-00"})}}})}}})}}}}}}},
              {"containers",
               json::array({{{"name", "main"},
                             {"image", "busybox"},
                             {"resources", {{"limits", {{"nvidia.com/gpu", std::to_string(gpus)}}}}}}})}}}}}}}};
    if (owned) {
      j["metadata"]["ownerReferences"] = json::array({{{"apiVersion", "gpuorch.io/v1alpha1"},
                                                       {"kind", "GPUWorkload"},
                                                       {"name", "victim"},
                                                       {"uid", uid},
                                                       {"controller", true}}});
    }
    auto r = store.create(job_type, "default", j);
    if (!r.ok()) {
      throw std::runtime_error(r.error().message());
    }
  };
  job("victim-0", 3, true);
  job("victim-1", 3, true);  // a second live Job, and 6 > 4 GPUs on gpu-node-00
  job("stray-0", 1, false);  // no ownerReference
  // Terminal, then not: a regression.
  auto set_phase = [&](const std::string& phase) {
    auto r = store.mutate(workload_type, "default", "victim", sandbox::Subresource::status, "selftest", [&](json& obj) {
      obj["status"]["phase"] = phase;
      return true;
    });
    if (!r.ok()) {
      throw std::runtime_error(r.error().message());
    }
  };
  set_phase("Succeeded");
  set_phase("Running");
  // The sandbox's scheduler reports the pod it cannot place on its next tick.
  for (int i = 0; i < 200 && watcher.report().unschedulable_violations == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  // Gone while its Jobs are live: the finalizer order is broken.
  auto removed = store.remove(workload_type, "default", "victim");
  if (!removed.ok()) {
    fmt::print(stderr, "{}\n", removed.error().message());
    return 1;
  }
  std::this_thread::sleep_for(milliseconds(200));
  watcher.stop();
  const InvariantReport r = watcher.report();
  print_report(r);
  std::vector<std::string> missed;
  auto expect = [&](std::uint64_t n, const char* what) {
    if (n == 0) {
      missed.emplace_back(what);
    }
  };
  expect(r.duplicate_violations, "two live Jobs for one workload");
  expect(r.overcommit_violations, "an over-committed node");
  expect(r.unowned_job_violations, "a Job without an ownerReference");
  expect(r.regression_violations, "a terminal phase that changed");
  expect(r.early_finalizer_violations, "a workload removed before its Jobs");
  expect(r.unschedulable_violations, "an Unschedulable pod");
  for (const auto& m : missed) {
    fmt::print("FAIL: the watcher did not report {}\n", m);
  }
  fmt::print("{}\n", missed.empty() ? "PASS" : "FAIL");
  return missed.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse_options(argc, argv);
    if (o.mode == "chaos") {
      return run_chaos(o);
    }
    if (o.mode == "overlap") {
      return run_overlap(o);
    }
    if (o.mode == "watch") {
      return run_watch_chaos(o, false);
    }
    if (o.mode == "watch-lease") {
      return run_watch_chaos(o, true);
    }
    if (o.mode == "selftest") {
      return run_selftest(o);
    }
    std::cerr << "unknown mode " << o.mode << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "chaos_driver: " << e.what() << "\n";
    return 1;
  }
}
