// gpuorch simulate: run the placement core offline on a node snapshot, a
// synthetic cluster or a real trace, and compare strategies.

#include <unistd.h>

// GCC 12 at -O2 reports a false "potential null pointer dereference" inside
// CLI11's detail::split() once it is inlined here (vector<string> options).
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gpuorch/model/manifest.hpp>
#include <gpuorch/sched/inputs.hpp>
#include <gpuorch/sched/queue.hpp>
#include <gpuorch/sched/simulator.hpp>
#include <gpuorch/sched/strategy.hpp>
#include <nlohmann/json.hpp>

#include "cluster_snapshot.hpp"
#include "commands.hpp"
#include "completion.hpp"
#include "exit_codes.hpp"
#include "svg_chart.hpp"

namespace gpuorch::cli {
namespace {

using nlohmann::ordered_json;

struct SimulateOptions {
  std::vector<std::string> node_files;
  std::vector<std::string> clusters;
  std::string workload_file;
  std::string mode = "queue";
  std::vector<std::string> strategies;
  bool compare = false;
  std::string seeds = "42";
  double inflate = 1.3;
  double curve_step = 1.0;
  std::string queueing = "best-effort";
  std::vector<std::string> prices;
  std::string output = "table";
  std::string plot;
  bool fail_on_unschedulable = false;
  unsigned jobs = 0;
  bool from_cluster = false;
  bool all_namespaces = false;
  std::string save_snapshot;
};

// --- inputs -----------------------------------------------------------------

Result<std::string> read_input(Context& ctx, const std::string& path) {
  if (path == "-") {
    std::stringstream buffer;
    buffer << ctx.io.in.rdbuf();
    return buffer.str();
  }
  return model::local_file_system().read(path);
}

Result<std::vector<std::uint64_t>> parse_seeds(const std::string& text) {
  std::vector<std::uint64_t> seeds;
  const auto bad = [&] {
    return Error(ErrorCode::usage,
                 fmt::format("--seeds \"{}\": expected a seed, a range FIRST-LAST or a comma-separated list", text));
  };
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const auto part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const auto dash = part.find('-');
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    const auto parse = [](const std::string& s, std::uint64_t& out) {
      if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 19) {
        return false;
      }
      out = std::stoull(s);
      return true;
    };
    if (dash == std::string::npos) {
      if (!parse(part, first)) {
        return bad();
      }
      last = first;
    } else if (!parse(part.substr(0, dash), first) || !parse(part.substr(dash + 1), last) || last < first) {
      return bad();
    }
    if (last - first >= 10000 || seeds.size() + (last - first) >= 10000) {
      return Error(ErrorCode::usage, fmt::format("--seeds \"{}\": at most 10000 seeds", text));
    }
    for (auto s = first; s <= last; ++s) {
      seeds.push_back(s);
    }
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  return seeds;
}

struct Inputs {
  std::vector<sched::NodeSpec> nodes;
  std::map<std::string, double> prices;
  std::vector<sched::Request> workloads;
  std::string workloads_format;
  /// Resources already taken when the run starts (running pods of a snapshot).
  std::vector<sched::NodeInUse> in_use;
};

/// The nodes with what is in use taken off their capacity: packing and replay
/// runs start from what is free (whole GPUs, as Kubernetes pods take them).
std::vector<sched::NodeSpec> free_capacity(const Inputs& in) {
  if (in.in_use.empty()) {
    return in.nodes;
  }
  std::map<std::string, const sched::NodeInUse*> used;
  for (const auto& u : in.in_use) {
    used[u.node] = &u;
  }
  std::vector<sched::NodeSpec> nodes = in.nodes;
  for (auto& n : nodes) {
    if (auto it = used.find(n.name); it != used.end()) {
      n.gpu_count = std::max(0, n.gpu_count - it->second->gpus);
      n.cpu_milli = std::max<std::int64_t>(0, n.cpu_milli - it->second->cpu_milli);
      n.memory_bytes = std::max<std::int64_t>(0, n.memory_bytes - it->second->memory_bytes);
    }
  }
  return nodes;
}

Result<Inputs> load_inputs(Context& ctx, const SimulateOptions& opts) {
  Inputs in;
  if (opts.from_cluster) {
    if (!opts.node_files.empty() || !opts.clusters.empty()) {
      return Error(ErrorCode::usage, "--from-cluster takes the nodes from the cluster: drop --nodes and --cluster");
    }
    GPUORCH_ASSIGN_OR_RETURN(auto snapshot, load_cluster_snapshot(ctx, opts.all_namespaces));
    if (!opts.save_snapshot.empty()) {
      GPUORCH_ASSIGN_OR_RETURN(const auto paths, save_cluster_snapshot(snapshot, opts.save_snapshot));
      ctx.io.err << "Snapshot saved: " << paths.nodes << ", " << paths.workloads << '\n';
    }
    ctx.io.err << describe_snapshot(snapshot) << '\n';
    in.nodes = std::move(snapshot.nodes);
    in.in_use = std::move(snapshot.in_use);
    in.workloads = std::move(snapshot.pending);
    in.workloads_format = "cluster";
    if (in.workloads.empty() && opts.workload_file.empty()) {
      return in;
    }
  } else if (!opts.save_snapshot.empty()) {
    return Error(ErrorCode::usage, "--save-snapshot needs --from-cluster");
  } else if (opts.all_namespaces) {
    return Error(ErrorCode::usage, "--all-namespaces needs --from-cluster");
  }
  for (const auto& path : opts.node_files) {
    GPUORCH_ASSIGN_OR_RETURN(const auto content, read_input(ctx, path));
    GPUORCH_ASSIGN_OR_RETURN(auto parsed, sched::parse_nodes(content, path == "-" ? "<stdin>" : path));
    for (auto& n : parsed.nodes) {
      in.nodes.push_back(std::move(n));
    }
    in.prices.merge(parsed.price_by_model);
    for (auto& u : parsed.in_use) {
      in.in_use.push_back(std::move(u));
    }
  }
  for (std::size_t i = 0; i < opts.clusters.size(); ++i) {
    GPUORCH_ASSIGN_OR_RETURN(auto pool, sched::synthetic_nodes(opts.clusters[i], i));
    for (auto& n : pool) {
      in.nodes.push_back(std::move(n));
    }
  }
  for (const auto& entry : opts.prices) {
    const auto eq = entry.find('=');
    double price = 0;
    if (eq == std::string::npos || eq == 0) {
      return Error(ErrorCode::usage, fmt::format("--price \"{}\": expected MODEL=PRICE, e.g. H100=4.10", entry));
    }
    try {
      std::size_t used = 0;
      price = std::stod(entry.substr(eq + 1), &used);
      if (used != entry.size() - eq - 1 || price < 0 || !std::isfinite(price)) {
        throw std::invalid_argument("price");
      }
    } catch (const std::exception&) {
      return Error(ErrorCode::usage, fmt::format("--price \"{}\": the price must be a number >= 0", entry));
    }
    in.prices[entry.substr(0, eq)] = price;
  }
  if (in.nodes.empty()) {
    return Error(ErrorCode::usage, opts.from_cluster ? "the cluster has no nodes"
                                                     : "no nodes: give --nodes FILE or --cluster COUNTxGPUS[:MODEL]");
  }
  if (opts.workload_file.empty() && !opts.from_cluster) {
    return Error(ErrorCode::usage, "no workloads: give --workloads FILE");
  }
  if (opts.workload_file.empty()) {
    return in;
  }
  GPUORCH_ASSIGN_OR_RETURN(const auto content, read_input(ctx, opts.workload_file));
  GPUORCH_ASSIGN_OR_RETURN(auto parsed,
                           sched::parse_workloads(content, opts.workload_file == "-" ? "<stdin>" : opts.workload_file));
  // With --from-cluster the file's workloads queue behind (or, by priority, before) the pending ones.
  for (auto& w : parsed.workloads) {
    in.workloads.push_back(std::move(w));
  }
  in.workloads_format = opts.from_cluster ? "cluster + " + std::string(sched::to_string(parsed.format))
                                          : std::string(sched::to_string(parsed.format));
  if (in.workloads.empty()) {
    return Error(ErrorCode::config, fmt::format("{}: no workloads", opts.workload_file));
  }
  return in;
}

// --- running in parallel, with progress --------------------------------------

/// A progress bar on stderr, drawn only when stderr is a terminal.
class Progress {
 public:
  Progress(bool enabled, std::size_t runs) : m_enabled(enabled), m_fraction(runs, 0.0) {}
  ~Progress() { finish(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(std::size_t run, double fraction) {
    if (!m_enabled) {
      return;
    }
    const std::lock_guard lock(m_mutex);
    m_fraction[run] = fraction;
    const auto now = std::chrono::steady_clock::now();
    if (fraction < 1.0 && now - m_last < std::chrono::milliseconds(100)) {
      return;
    }
    m_last = now;
    double sum = 0;
    std::size_t done = 0;
    for (const auto f : m_fraction) {
      sum += f;
      done += f >= 1.0 ? 1 : 0;
    }
    const double total = sum / static_cast<double>(m_fraction.size());
    constexpr int k_width = 30;
    const int filled = static_cast<int>(total * k_width);
    std::fprintf(
        stderr, "\rsimulating [%s%s] %3.0f%% %zu/%zu runs", std::string(static_cast<std::size_t>(filled), '#').c_str(),
        std::string(static_cast<std::size_t>(k_width - filled), ' ').c_str(), total * 100, done, m_fraction.size());
    std::fflush(stderr);
    m_drawn = true;
  }

  void finish() {
    if (m_drawn) {
      std::fprintf(stderr, "\r\033[K");
      std::fflush(stderr);
      m_drawn = false;
    }
  }

 private:
  bool m_enabled;
  bool m_drawn = false;
  std::mutex m_mutex;
  std::vector<double> m_fraction;
  std::chrono::steady_clock::time_point m_last{};
};

bool stderr_is_terminal(const Context& ctx) {
  return &ctx.io.err == &std::cerr && ::isatty(STDERR_FILENO) == 1;
}

/// Runs tasks(i) for i in [0, count) on `jobs` threads; results are by index, so order never depends on timing.
void run_parallel(std::size_t count, unsigned jobs, const std::function<void(std::size_t)>& task) {
  const auto threads = std::max(1U, std::min<unsigned>(jobs, static_cast<unsigned>(count)));
  std::atomic<std::size_t> next{0};
  const auto worker = [&] {
    for (auto i = next++; i < count; i = next++) {
      task(i);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) {
    pool.emplace_back(worker);
  }
  worker();
  for (auto& t : pool) {
    t.join();
  }
}

// --- formatting helpers -------------------------------------------------------

// Display width of UTF-8 text: continuation bytes take no column ("±" is one).
std::size_t display_width(const std::string& s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U; }));
}

void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (std::size_t c = 0; c < row.size(); ++c) {
      widths[c] = std::max(widths[c], display_width(row[c]));
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) {
        line += std::string(widths[c] - display_width(row[c]) + 3, ' ');
      }
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    out << line << '\n';
  }
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) {
    return s;
  }
  std::string out = "\"";
  for (const char c : s) {
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  }
  return out + "\"";
}

void print_csv(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      out << (c == 0 ? "" : ",") << csv_field(row[c]);
    }
    out << '\n';
  }
}

std::string gpus_text(const sched::Request& r) {
  if (r.shares_gpu()) {
    return fmt::format("{}m", r.gpu_milli);
  }
  return std::to_string(r.gpu_count);
}

std::string gpu_ids(std::uint64_t mask) {
  std::string out;
  for (int g = 0; g < 64; ++g) {
    if (((mask >> g) & 1U) != 0) {
      out += out.empty() ? std::to_string(g) : "," + std::to_string(g);
    }
  }
  return out.empty() ? "-" : out;
}

/// Seconds as a compact duration: 45s, 12m30s, 3h05m, 2d04h.
std::string duration_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) {
    return "-";
  }
  const auto s = static_cast<std::int64_t>(std::llround(seconds));
  if (s < 60) {
    return fmt::format("{}s", s);
  }
  if (s < 3600) {
    return fmt::format("{}m{:02}s", s / 60, s % 60);
  }
  if (s < 86400) {
    return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  }
  return fmt::format("{}d{:02}h", s / 86400, (s % 86400) / 3600);
}

double round_to(double v, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(v * scale) / scale;
}

ordered_json mean_sd_json(const std::vector<double>& values, int digits = 3) {
  const auto m = sched::mean_sd(values);
  return ordered_json{{"mean", round_to(m.mean, digits)}, {"sd", round_to(m.sd, digits)}};
}

std::string mean_sd_text(const std::vector<double>& values) {
  const auto m = sched::mean_sd(values);
  if (values.size() < 2) {
    return fmt::format("{:.2f}", m.mean);
  }
  return fmt::format("{:.2f} ± {:.2f}", m.mean, m.sd);
}

Status write_text_file(const std::string& path, const std::string& content) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) {
    return Error(ErrorCode::io, fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  }
  file << content;
  file.close();
  if (!file) {
    return Error(ErrorCode::io, fmt::format("cannot write {}", path));
  }
  return {};
}

std::int64_t cluster_gpus(const std::vector<sched::NodeSpec>& nodes) {
  std::int64_t gpus = 0;
  for (const auto& n : nodes) {
    gpus += n.gpu_count;
  }
  return gpus;
}

std::string seeds_text(const std::vector<std::uint64_t>& seeds) {
  if (seeds.size() == 1) {
    return std::to_string(seeds.front());
  }
  bool contiguous = true;
  for (std::size_t i = 1; i < seeds.size(); ++i) {
    contiguous = contiguous && seeds[i] == seeds[i - 1] + 1;
  }
  if (contiguous) {
    return fmt::format("{}-{}", seeds.front(), seeds.back());
  }
  std::string out;
  for (const auto s : seeds) {
    out += out.empty() ? std::to_string(s) : "," + std::to_string(s);
  }
  return out;
}

// --- queue mode -------------------------------------------------------------------

struct QueueRun {
  std::string strategy;
  sched::ClusterState state;
  std::vector<sched::QueueOutcome> outcomes;
};

Result<QueueRun> run_queue(const Inputs& in, const std::string& strategy_name, std::uint64_t seed,
                           sched::QueueingPolicy policy) {
  QueueRun run;
  for (const auto& n : in.nodes) {
    GPUORCH_TRY(run.state.add_node(n));
  }
  for (const auto& w : in.workloads) {
    GPUORCH_TRY(w.validate());
  }
  sched::StrategyOptions options;
  options.seed = seed;
  options.price_by_model = in.prices;
  options.mix = sched::WorkloadMix::from_requests(in.workloads);
  GPUORCH_ASSIGN_OR_RETURN(auto strategy, sched::make_strategy(strategy_name, options));
  run.strategy = std::string(strategy->name());
  sched::Placer placer(run.state, *strategy);
  for (const auto& u : in.in_use) {
    const auto id = run.state.find(u.node);
    if (!id) {
      return Error(ErrorCode::config, fmt::format("resources in use on an unknown node \"{}\"", u.node));
    }
    // Whole GPUs, lowest index first: which GPUs does not matter to any strategy.
    sched::Allocation taken;
    taken.cpu_milli = u.cpu_milli;
    taken.memory_bytes = u.memory_bytes;
    taken.gpu_milli = sched::k_milli_per_gpu;
    taken.gpu_mask = u.gpus >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << u.gpus) - 1;
    GPUORCH_TRY(placer.reserve(*id, taken));
  }
  run.outcomes = sched::schedule_queue(placer, in.workloads, policy);
  return run;
}

std::string status_of(const sched::QueueOutcome& o) {
  if (o.decision.placed) {
    return "Placed";
  }
  return o.blocked_by ? "Blocked" : "Unschedulable";
}

std::string message_of(const Inputs& in, const sched::QueueOutcome& o) {
  if (o.decision.placed) {
    return "";
  }
  const auto& r = in.workloads[o.index];
  if (o.blocked_by) {
    return fmt::format("waiting behind {} (strict queueing); on its own: {}", in.workloads[*o.blocked_by].name,
                       o.decision.reason(r));
  }
  return o.decision.reason(r);
}

int run_queue_mode(Context& ctx, const SimulateOptions& opts, const Inputs& in,
                   const std::vector<std::string>& strategies, std::uint64_t seed, sched::QueueingPolicy policy) {
  std::vector<QueueRun> runs;
  std::size_t unschedulable_total = 0;
  for (const auto& name : strategies) {
    auto run = run_queue(in, name, seed, policy).value_or_throw();
    for (const auto& o : run.outcomes) {
      unschedulable_total += o.decision.placed ? 0 : 1;
    }
    runs.push_back(std::move(run));
  }
  const auto gpus = cluster_gpus(in.nodes);
  if (opts.output == "json") {
    ordered_json doc;
    doc["mode"] = "queue";
    doc["cluster"] = {{"nodes", in.nodes.size()}, {"gpus", gpus}};
    doc["workloads"] = in.workloads.size();
    doc["queueing"] = std::string(sched::to_string(policy));
    doc["seed"] = seed;
    doc["strategies"] = ordered_json::array();
    for (const auto& run : runs) {
      ordered_json s;
      std::size_t placed = 0;
      ordered_json decisions = ordered_json::array();
      for (const auto& o : run.outcomes) {
        const auto& r = in.workloads[o.index];
        ordered_json d{{"name", r.name},
                       {"priority", r.priority},
                       {"gpus", r.gpu_count},
                       {"gpuMilli", r.gpu_count == 0 ? 0 : r.gpu_milli},
                       {"status", status_of(o)}};
        if (o.decision.placed) {
          ++placed;
          d["node"] = run.state.spec(o.decision.node).name;
          ordered_json ids = ordered_json::array();
          for (int g = 0; g < 64; ++g) {
            if (((o.decision.allocation.gpu_mask >> g) & 1U) != 0) {
              ids.push_back(g);
            }
          }
          d["gpuIds"] = ids;
          d["score"] = std::isfinite(o.decision.score) ? ordered_json(round_to(o.decision.score, 6)) : ordered_json();
        } else {
          d["message"] = message_of(in, o);
          ordered_json reasons = ordered_json::object();
          if (o.decision.summary) {
            for (std::size_t k = 0; k < sched::k_filter_reason_count; ++k) {
              if (o.decision.summary->counts[k] > 0) {
                reasons[std::string(sched::to_string(static_cast<sched::FilterReason>(k)))] =
                    o.decision.summary->counts[k];
              }
            }
          }
          d["reasons"] = reasons;
          if (o.blocked_by) {
            d["blockedBy"] = in.workloads[*o.blocked_by].name;
          }
        }
        decisions.push_back(std::move(d));
      }
      s["name"] = run.strategy;
      s["placed"] = placed;
      s["unschedulable"] = run.outcomes.size() - placed;
      s["gpuMilliAllocated"] = run.state.used_gpu_milli();
      s["allocatedPercent"] =
          round_to(run.state.total_gpu_milli() == 0 ? 0.0
                                                    : 100.0 * static_cast<double>(run.state.used_gpu_milli()) /
                                                          static_cast<double>(run.state.total_gpu_milli()),
                   3);
      s["decisions"] = std::move(decisions);
      doc["strategies"].push_back(std::move(s));
    }
    ctx.io.out << doc.dump(4) << '\n';
  } else {
    std::vector<std::vector<std::string>> rows;
    const bool csv = opts.output == "csv";
    if (csv) {
      rows.push_back({"strategy", "name", "priority", "gpus", "status", "node", "gpu_ids", "message"});
    }
    for (std::size_t k = 0; k < runs.size(); ++k) {
      const auto& run = runs[k];
      if (!csv) {
        rows.clear();
        rows.push_back({"NAME", "PRIORITY", "GPUS", "STATUS", "NODE", "GPU-IDS", "MESSAGE"});
      }
      std::size_t placed = 0;
      for (const auto& o : run.outcomes) {
        const auto& r = in.workloads[o.index];
        placed += o.decision.placed ? 1 : 0;
        std::vector<std::string> row = {r.name,
                                        std::to_string(r.priority),
                                        gpus_text(r),
                                        status_of(o),
                                        o.decision.placed ? run.state.spec(o.decision.node).name : "-",
                                        o.decision.placed ? gpu_ids(o.decision.allocation.gpu_mask) : "-",
                                        message_of(in, o)};
        if (csv) {
          row.insert(row.begin(), run.strategy);
        }
        rows.push_back(std::move(row));
      }
      if (!csv) {
        if (runs.size() > 1) {
          ctx.io.out << (k == 0 ? "" : "\n") << "STRATEGY " << run.strategy << '\n';
        }
        print_table(ctx.io.out, rows);
        ctx.io.out << fmt::format("\n{}: placed {} of {} workloads; {} unschedulable; {:.1f}% of {} GPUs allocated\n",
                                  run.strategy, placed, run.outcomes.size(), run.outcomes.size() - placed,
                                  run.state.total_gpu_milli() == 0
                                      ? 0.0
                                      : 100.0 * static_cast<double>(run.state.used_gpu_milli()) /
                                            static_cast<double>(run.state.total_gpu_milli()),
                                  gpus);
      }
    }
    if (csv) {
      print_csv(ctx.io.out, rows);
    }
  }
  if (!opts.plot.empty()) {
    ctx.io.err << "warning: --plot draws packing and replay runs; nothing to plot in queue mode\n";
  }
  return opts.fail_on_unschedulable && unschedulable_total > 0 ? k_exit_workload_failed : k_exit_ok;
}

// --- packing mode -------------------------------------------------------------------

int run_packing_mode(Context& ctx, const SimulateOptions& opts, const Inputs& in,
                     const std::vector<std::string>& strategies, const std::vector<std::uint64_t>& seeds) {
  const std::size_t total = strategies.size() * seeds.size();
  std::vector<Result<sched::PackingResult>> results(total, Error(ErrorCode::internal, "not run"));
  const auto mix = sched::WorkloadMix::from_requests(in.workloads);
  const auto nodes = free_capacity(in);
  {
    Progress progress(stderr_is_terminal(ctx), total);
    run_parallel(total, opts.jobs, [&](std::size_t i) {
      sched::PackingOptions options;
      options.strategy = strategies[i / seeds.size()];
      options.seed = seeds[i % seeds.size()];
      options.inflate = opts.inflate;
      options.curve_step = opts.curve_step;
      options.strategy_options.price_by_model = in.prices;
      options.strategy_options.mix = mix;
      results[i] =
          sched::run_packing(nodes, in.workloads, options, [&progress, i](double f) { progress.update(i, f); });
      progress.update(i, 1.0);
    });
  }
  for (auto& r : results) {
    if (!r.ok()) {
      throw Failure(r.error());
    }
  }
  const auto gpus = cluster_gpus(nodes);
  struct Summary {
    std::string name;
    std::vector<double> unallocated, fragmentation, placed, failed;
    std::vector<double> curve_x;
    std::vector<std::vector<double>> curve_unallocated, curve_fragmentation;  // [point][seed]
  };
  std::vector<Summary> summaries;
  for (std::size_t s = 0; s < strategies.size(); ++s) {
    Summary sum;
    sum.name = results[s * seeds.size()]->strategy;
    std::size_t points = std::numeric_limits<std::size_t>::max();
    for (std::size_t k = 0; k < seeds.size(); ++k) {
      points = std::min(points, results[s * seeds.size() + k]->curve.size());
    }
    sum.curve_unallocated.assign(points, {});
    sum.curve_fragmentation.assign(points, {});
    for (std::size_t k = 0; k < seeds.size(); ++k) {
      const auto& r = *results[s * seeds.size() + k];
      sum.unallocated.push_back(r.unallocated_at_100);
      sum.fragmentation.push_back(r.fragmentation_at_100);
      sum.placed.push_back(static_cast<double>(r.placed));
      sum.failed.push_back(static_cast<double>(r.failed));
      for (std::size_t p = 0; p < points; ++p) {
        sum.curve_unallocated[p].push_back(r.curve[p].unallocated_pct);
        sum.curve_fragmentation[p].push_back(r.curve[p].fragmentation_pct);
      }
    }
    for (std::size_t p = 0; p < points; ++p) {
      sum.curve_x.push_back(results[s * seeds.size()]->curve[p].arrived_pct);
    }
    summaries.push_back(std::move(sum));
  }

  if (opts.output == "json") {
    ordered_json doc;
    doc["mode"] = "packing";
    doc["cluster"] = {{"nodes", in.nodes.size()}, {"gpus", gpus}};
    doc["workloads"] = in.workloads.size();
    doc["inflate"] = opts.inflate;
    doc["seeds"] = seeds;
    doc["strategies"] = ordered_json::array();
    for (std::size_t s = 0; s < summaries.size(); ++s) {
      const auto& sum = summaries[s];
      ordered_json runs = ordered_json::array();
      for (std::size_t k = 0; k < seeds.size(); ++k) {
        const auto& r = *results[s * seeds.size() + k];
        runs.push_back({{"seed", r.seed},
                        {"unallocatedAt100", round_to(r.unallocated_at_100, 4)},
                        {"fragmentationAt100", round_to(r.fragmentation_at_100, 4)},
                        {"workloads", r.workloads},
                        {"placed", r.placed},
                        {"failed", r.failed}});
      }
      ordered_json curve = ordered_json::array();
      for (std::size_t p = 0; p < sum.curve_x.size(); ++p) {
        curve.push_back({{"arrived", round_to(sum.curve_x[p], 3)},
                         {"unallocated", mean_sd_json(sum.curve_unallocated[p])},
                         {"fragmentation", mean_sd_json(sum.curve_fragmentation[p])}});
      }
      doc["strategies"].push_back({{"name", sum.name},
                                   {"unallocatedAt100", mean_sd_json(sum.unallocated)},
                                   {"fragmentationAt100", mean_sd_json(sum.fragmentation)},
                                   {"placed", mean_sd_json(sum.placed, 1)},
                                   {"failed", mean_sd_json(sum.failed, 1)},
                                   {"runs", std::move(runs)},
                                   {"curve", std::move(curve)}});
    }
    ctx.io.out << doc.dump(4) << '\n';
  } else if (opts.output == "csv") {
    std::vector<std::vector<std::string>> rows = {
        {"strategy", "seed", "unallocated_at_100", "fragmentation_at_100", "workloads", "placed", "failed"}};
    for (std::size_t i = 0; i < total; ++i) {
      const auto& r = *results[i];
      rows.push_back({r.strategy, std::to_string(r.seed), fmt::format("{:.4f}", r.unallocated_at_100),
                      fmt::format("{:.4f}", r.fragmentation_at_100), std::to_string(r.workloads),
                      std::to_string(r.placed), std::to_string(r.failed)});
    }
    print_csv(ctx.io.out, rows);
  } else {
    ctx.io.out << fmt::format("Cluster: {} nodes, {} GPUs. Workloads: {} ({}), inflated to {}x. Seeds: {}.\n\n",
                              in.nodes.size(), gpus, in.workloads.size(), in.workloads_format, opts.inflate,
                              seeds_text(seeds));
    std::vector<std::vector<std::string>> rows = {
        {"STRATEGY", "UNALLOCATED@100%", "FRAGMENTATION@100%", "PLACED", "FAILED"}};
    for (const auto& sum : summaries) {
      rows.push_back({sum.name, mean_sd_text(sum.unallocated), mean_sd_text(sum.fragmentation),
                      fmt::format("{:.0f}", sched::mean_sd(sum.placed).mean),
                      fmt::format("{:.0f}", sched::mean_sd(sum.failed).mean)});
    }
    print_table(ctx.io.out, rows);
  }

  if (!opts.plot.empty()) {
    ChartPanel unallocated{"Unallocated GPU capacity as workloads arrive (mean over seeds)",
                           "arrived workloads (% of cluster GPU capacity)",
                           "unallocated GPU (%)",
                           {},
                           0,
                           100};
    ChartPanel fragmentation{"GPU capacity stranded for the workload mix",
                             "arrived workloads (% of cluster GPU capacity)",
                             "fragmentation (% of capacity)",
                             {},
                             0,
                             0};
    for (const auto& sum : summaries) {
      ChartSeries u{sum.name, sum.curve_x, {}};
      ChartSeries f{sum.name, sum.curve_x, {}};
      for (std::size_t p = 0; p < sum.curve_x.size(); ++p) {
        u.y.push_back(sched::mean_sd(sum.curve_unallocated[p]).mean);
        f.y.push_back(sched::mean_sd(sum.curve_fragmentation[p]).mean);
      }
      unallocated.series.push_back(std::move(u));
      fragmentation.series.push_back(std::move(f));
    }
    const auto title = fmt::format("Packing: {} nodes, {} GPUs, {} workloads x{}, seeds {}", in.nodes.size(), gpus,
                                   in.workloads.size(), opts.inflate, seeds_text(seeds));
    write_text_file(opts.plot, render_svg_chart(title, {unallocated, fragmentation})).value_or_throw();
  }
  return k_exit_ok;
}

// --- replay mode -------------------------------------------------------------------

int run_replay_mode(Context& ctx, const SimulateOptions& opts, const Inputs& in,
                    const std::vector<std::string>& strategies, const std::vector<std::uint64_t>& seeds,
                    sched::QueueingPolicy policy) {
  const std::size_t total = strategies.size() * seeds.size();
  std::vector<Result<sched::ReplayResult>> results(total, Error(ErrorCode::internal, "not run"));
  const auto mix = sched::WorkloadMix::from_requests(in.workloads);
  const auto nodes = free_capacity(in);
  {
    Progress progress(stderr_is_terminal(ctx), total);
    run_parallel(total, opts.jobs, [&](std::size_t i) {
      sched::ReplayOptions options;
      options.strategy = strategies[i / seeds.size()];
      options.seed = seeds[i % seeds.size()];
      options.queueing = policy;
      options.strategy_options.price_by_model = in.prices;
      options.strategy_options.mix = mix;
      results[i] = sched::run_replay(nodes, in.workloads, options, [&progress, i](double f) { progress.update(i, f); });
      progress.update(i, 1.0);
    });
  }
  bool incomplete = false;
  for (auto& r : results) {
    if (!r.ok()) {
      throw Failure(r.error());
    }
    incomplete = incomplete || r->unplaceable > 0 || r->completed < r->workloads;
  }
  const auto gpus = cluster_gpus(nodes);
  // Metrics per strategy, one value per seed.
  struct Metric {
    const char* key;
    double (*get)(const sched::ReplayResult&);
  };
  static const Metric k_metrics[] = {
      {"queueingDelayMean", [](const sched::ReplayResult& r) { return r.queueing_delay.mean; }},
      {"queueingDelayP50", [](const sched::ReplayResult& r) { return r.queueing_delay.p50; }},
      {"queueingDelayP95", [](const sched::ReplayResult& r) { return r.queueing_delay.p95; }},
      {"queueingDelayP99", [](const sched::ReplayResult& r) { return r.queueing_delay.p99; }},
      {"completionTimeMean", [](const sched::ReplayResult& r) { return r.completion_time.mean; }},
      {"completionTimeP50", [](const sched::ReplayResult& r) { return r.completion_time.p50; }},
      {"completionTimeP95", [](const sched::ReplayResult& r) { return r.completion_time.p95; }},
      {"makespan", [](const sched::ReplayResult& r) { return r.makespan; }},
      {"utilisationPercent", [](const sched::ReplayResult& r) { return r.mean_utilisation_pct; }},
      {"maxQueued", [](const sched::ReplayResult& r) { return static_cast<double>(r.max_queued); }},
  };
  const auto values = [&](std::size_t s, const Metric& m) {
    std::vector<double> v;
    for (std::size_t k = 0; k < seeds.size(); ++k) {
      v.push_back(m.get(*results[s * seeds.size() + k]));
    }
    return v;
  };
  const auto mean_of = [&](std::size_t s, std::size_t metric) {
    return sched::mean_sd(values(s, k_metrics[metric])).mean;
  };

  if (opts.output == "json") {
    ordered_json doc;
    doc["mode"] = "replay";
    doc["cluster"] = {{"nodes", in.nodes.size()}, {"gpus", gpus}};
    doc["workloads"] = in.workloads.size();
    doc["queueing"] = std::string(sched::to_string(policy));
    doc["seeds"] = seeds;
    doc["strategies"] = ordered_json::array();
    for (std::size_t s = 0; s < strategies.size(); ++s) {
      const auto& first = *results[s * seeds.size()];
      ordered_json entry{{"name", first.strategy}, {"completed", first.completed}, {"unplaceable", first.unplaceable}};
      for (const auto& m : k_metrics) {
        entry[m.key] = mean_sd_json(values(s, m));
      }
      ordered_json timeline = ordered_json::array();
      for (const auto& p : first.timeline) {
        timeline.push_back({{"time", round_to(p.time, 1)},
                            {"utilisationPercent", round_to(p.utilisation_pct, 3)},
                            {"queued", p.queued},
                            {"running", p.running}});
      }
      entry["timeline"] = std::move(timeline);
      doc["strategies"].push_back(std::move(entry));
    }
    ctx.io.out << doc.dump(4) << '\n';
  } else if (opts.output == "csv") {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> header = {"strategy", "seed", "completed", "unplaceable"};
    for (const auto& m : k_metrics) {
      header.emplace_back(m.key);
    }
    rows.push_back(header);
    for (const auto& r : results) {
      std::vector<std::string> row = {r->strategy, std::to_string(r->seed), std::to_string(r->completed),
                                      std::to_string(r->unplaceable)};
      for (const auto& m : k_metrics) {
        row.push_back(fmt::format("{:.3f}", m.get(*r)));
      }
      rows.push_back(std::move(row));
    }
    print_csv(ctx.io.out, rows);
  } else {
    ctx.io.out << fmt::format("Cluster: {} nodes, {} GPUs. Workloads: {} ({}). Queueing: {}. Seeds: {}.\n\n",
                              in.nodes.size(), gpus, in.workloads.size(), in.workloads_format, sched::to_string(policy),
                              seeds_text(seeds));
    std::vector<std::vector<std::string>> rows = {{"STRATEGY", "COMPLETED", "UNPLACEABLE", "WAIT-P50", "WAIT-P95",
                                                   "WAIT-P99", "JCT-MEAN", "JCT-P95", "MAKESPAN", "UTILISATION",
                                                   "MAX-QUEUE"}};
    for (std::size_t s = 0; s < strategies.size(); ++s) {
      const auto& first = *results[s * seeds.size()];
      rows.push_back({first.strategy, std::to_string(first.completed), std::to_string(first.unplaceable),
                      duration_text(mean_of(s, 1)), duration_text(mean_of(s, 2)), duration_text(mean_of(s, 3)),
                      duration_text(mean_of(s, 4)), duration_text(mean_of(s, 6)), duration_text(mean_of(s, 7)),
                      fmt::format("{:.1f}%", mean_of(s, 8)), fmt::format("{:.0f}", mean_of(s, 9))});
    }
    print_table(ctx.io.out, rows);
  }

  if (!opts.plot.empty()) {
    ChartPanel utilisation{
        "GPU utilisation over time", "time since the first arrival (hours)", "GPUs in use (%)", {}, 0, 100};
    ChartPanel queue{
        "Workloads waiting over time", "time since the first arrival (hours)", "queued workloads", {}, 0, 0};
    for (std::size_t s = 0; s < strategies.size(); ++s) {
      const auto& first = *results[s * seeds.size()];
      ChartSeries u{first.strategy, {}, {}};
      ChartSeries q{first.strategy, {}, {}};
      for (const auto& p : first.timeline) {
        u.x.push_back(p.time / 3600.0);
        u.y.push_back(p.utilisation_pct);
        q.x.push_back(p.time / 3600.0);
        q.y.push_back(static_cast<double>(p.queued));
      }
      utilisation.series.push_back(std::move(u));
      queue.series.push_back(std::move(q));
    }
    const auto title = fmt::format("Replay: {} nodes, {} GPUs, {} workloads, seed {}", in.nodes.size(), gpus,
                                   in.workloads.size(), seeds.front());
    write_text_file(opts.plot, render_svg_chart(title, {utilisation, queue})).value_or_throw();
  }
  return opts.fail_on_unschedulable && incomplete ? k_exit_workload_failed : k_exit_ok;
}

int run_simulate(Context& ctx, SimulateOptions opts) {
  const auto seeds = parse_seeds(opts.seeds).value_or_throw();
  const auto policy = sched::parse_queueing_policy(opts.queueing).value_or_throw();
  if (opts.fail_on_unschedulable && opts.mode == "packing") {
    throw Failure(Error(ErrorCode::usage,
                        "--fail-on-unschedulable applies to --mode queue and replay (packing always overfills)"));
  }
  if (!(opts.curve_step > 0) || opts.curve_step > 100) {
    throw Failure(Error(ErrorCode::usage, fmt::format("--curve-step must be in (0, 100], got {}", opts.curve_step)));
  }
  if (!(opts.inflate > 0) || opts.inflate > 100) {
    throw Failure(Error(ErrorCode::usage, fmt::format("--inflate must be in (0, 100], got {}", opts.inflate)));
  }
  const auto& registry = sched::StrategyRegistry::builtin();
  std::vector<std::string> strategies;
  if (opts.compare) {
    strategies = registry.names();
  }
  for (const auto& name : opts.strategies) {
    auto canonical = registry.canonical(name).value_or_throw();
    if (std::find(strategies.begin(), strategies.end(), canonical) == strategies.end()) {
      strategies.push_back(std::move(canonical));
    }
  }
  if (strategies.empty()) {
    strategies.emplace_back("LeastLoaded");
  }
  if (opts.jobs == 0) {
    opts.jobs = std::max(1U, std::thread::hardware_concurrency());
  }
  const auto in = load_inputs(ctx, opts).value_or_throw();
  if (in.workloads.empty()) {
    // Only with --from-cluster: an idle queue is not an error.
    ctx.io.err << "No pending GPUWorkloads to place.\n";
    return k_exit_ok;
  }
  if (opts.mode == "packing") {
    return run_packing_mode(ctx, opts, in, strategies, seeds);
  }
  if (opts.mode == "replay") {
    return run_replay_mode(ctx, opts, in, strategies, seeds, policy);
  }
  if (seeds.size() > 1) {
    ctx.io.err << "warning: queue mode places once; using the first seed " << seeds.front() << '\n';
  }
  return run_queue_mode(ctx, opts, in, strategies, seeds.front(), policy);
}

}  // namespace

void setup_simulate(CLI::App& root, Context& ctx) {
  auto opts = std::make_shared<SimulateOptions>();
  auto* cmd = root.add_subcommand(
      "simulate",
      "Place workloads offline on a node snapshot, a synthetic cluster or a real trace; compare strategies");
  cmd->add_option("--nodes", opts->node_files,
                  "Node file (Kubernetes Nodes, gpuorch NodePool, Alibaba node CSV; - for stdin); repeatable")
      ->type_name("FILE");
  cmd->add_option("--cluster", opts->clusters, "Synthetic node pool COUNTxGPUS[:MODEL[:CPU[:MEMORY]]]; repeatable")
      ->type_name("SPEC");
  cmd->add_option("--workloads", opts->workload_file,
                  "Workload file (GPUWorkload YAML, Alibaba pod CSV, Philly CSV; - for stdin)")
      ->type_name("FILE");
  cmd->add_option("--mode", opts->mode,
                  "queue: place once in queue order; packing: the FGD paper's experiment; "
                  "replay: arrivals and departures over time")
      ->type_name("MODE")
      ->check(CLI::IsMember({"queue", "packing", "replay"}))
      ->capture_default_str();
  auto* strategy = cmd->add_option("--strategy", opts->strategies, "Placement strategy; repeatable")->type_name("NAME");
  register_completer(ctx, strategy, [](Context&, std::string_view) {
    Completions c;
    const auto& registry = sched::StrategyRegistry::builtin();
    for (const auto& name : registry.names()) {
      c.candidates.push_back({name, registry.summary(name)});
    }
    return c;
  });
  cmd->add_flag("--compare", opts->compare, "Run every strategy");
  cmd->add_option("--seeds", opts->seeds, "Seeds: one, a range FIRST-LAST or a list (runs in parallel)")
      ->type_name("SEEDS")
      ->capture_default_str();
  cmd->add_option("--inflate", opts->inflate, "Packing: grow the workload to this multiple of GPU capacity")
      ->type_name("FACTOR")
      ->capture_default_str();
  cmd->add_option("--curve-step", opts->curve_step, "Packing: sample the curves every this many arrived-% points")
      ->type_name("PERCENT")
      ->capture_default_str();
  cmd->add_option("--queueing", opts->queueing, "best-effort lets smaller work pass a blocked head; strict does not")
      ->type_name("POLICY")
      ->check(CLI::IsMember({"best-effort", "strict"}))
      ->capture_default_str();
  cmd->add_option("--price", opts->prices, "Price per GPU-hour of a GPU model, MODEL=PRICE; repeatable")
      ->type_name("MODEL=PRICE");
  cmd->add_option("-o,--output", opts->output, "Output format")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"table", "json", "csv"}))
      ->capture_default_str();
  cmd->add_option("--plot", opts->plot, "Write an SVG chart of the runs to FILE")->type_name("FILE");
  cmd->add_flag("--fail-on-unschedulable", opts->fail_on_unschedulable,
                "Exit with status 3 when a workload could not be placed (queue, replay)");
  cmd->add_option("-j,--jobs", opts->jobs, "Runs in parallel (default: one per CPU)")->type_name("N");
  cmd->add_flag("--from-cluster", opts->from_cluster,
                "Snapshot the cluster of the kubeconfig: its nodes, the GPUs its running pods use, and its pending "
                "GPUWorkloads (of the namespace)");
  cmd->add_flag("-A,--all-namespaces", opts->all_namespaces,
                "With --from-cluster: take the pending GPUWorkloads of every namespace");
  cmd->add_option("--save-snapshot", opts->save_snapshot,
                  "With --from-cluster: write the snapshot to DIR/nodes.yaml and DIR/workloads.yaml, which "
                  "--nodes and --workloads read back")
      ->type_name("DIR");
  cmd->callback([&ctx, opts] { ctx.run = [&ctx, opts] { return run_simulate(ctx, *opts); }; });
}

}  // namespace gpuorch::cli
