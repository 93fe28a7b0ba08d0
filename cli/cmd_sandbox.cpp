#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <ostream>
#include <sstream>

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gpuorch/sandbox/sandbox.hpp>

#include "commands.hpp"
#include "exit_codes.hpp"

namespace gpuorch::cli {
namespace {

struct SandboxOptions {
  std::string address = "127.0.0.1";
  int port = 0;
  bool insecure_http = false;
  std::string token;
  std::string kubeconfig_out;
  std::string ready_file;
  int nodes = 4;
  int gpus_per_node = 8;
  std::string gpu_model = "H100";
  std::string cpu = "64";
  std::string memory = "512Gi";
  std::string price;
  std::vector<std::string> pools;
  std::string node_file;
  std::string job_duration = "5s";
  double failure_rate = 0;
  std::uint64_t seed = 1;
  std::string data;
  std::size_t watch_history = 20000;
  std::vector<std::string> fault_errors;
  std::string fault_latency = "0ms";
  double fault_drop_rate = 0;
  int fault_watch_cut_events = 0;
  std::string fault_watch_cut_after = "0ms";
  double fault_watch_gone_rate = 0;
  bool nodes_given = false;
};

// Writes `text` to `path` through a temporary file and a rename, so readers
// never see a partial file. Mode 0600: the kubeconfig holds the token.
Status write_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) {
      return Error(ErrorCode::io, "cannot write " + tmp);
    }
    out << text;
    if (!out.flush()) {
      return Error(ErrorCode::io, "cannot write " + tmp);
    }
  }
  ::chmod(tmp.c_str(), 0600);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Error(ErrorCode::io, "cannot rename " + tmp + " to " + path);
  }
  return {};
}

Result<sandbox::SandboxOptions> build_options(const SandboxOptions& o) {
  sandbox::SandboxOptions s;
  s.server.address = o.address;
  s.server.port = o.port;
  s.server.tls = !o.insecure_http;
  s.server.token = o.token;
  s.data_file = o.data;
  s.watch_history = o.watch_history;
  if (!o.node_file.empty()) {
    std::ifstream in(o.node_file);
    if (!in) {
      return Error(ErrorCode::config, "cannot read the node file " + o.node_file);
    }
    std::stringstream content;
    content << in.rdbuf();
    GPUORCH_ASSIGN_OR_RETURN(s.cluster.extra_nodes, sandbox::nodes_from_file(content.str(), o.node_file));
  }
  if (o.nodes_given || (o.pools.empty() && o.node_file.empty())) {
    if (o.nodes > 0) {
      std::string spec = "name=gpu,count=" + std::to_string(o.nodes) + ",gpus=" + std::to_string(o.gpus_per_node) +
                         ",model=" + o.gpu_model + ",cpu=" + o.cpu + ",memory=" + o.memory;
      if (!o.price.empty()) {
        spec += ",price=" + o.price;
      }
      GPUORCH_ASSIGN_OR_RETURN(auto pool, sandbox::NodePool::parse(spec));
      s.cluster.pools.push_back(pool);
    }
  }
  for (const std::string& spec : o.pools) {
    GPUORCH_ASSIGN_OR_RETURN(auto pool, sandbox::NodePool::parse(spec));
    for (const auto& existing : s.cluster.pools) {
      if (existing.name == pool.name) {
        return Error(ErrorCode::usage, "two node pools are named \"" + pool.name + "\"; give each a name=");
      }
    }
    s.cluster.pools.push_back(pool);
  }
  GPUORCH_ASSIGN_OR_RETURN(s.cluster.job_duration, sandbox::parse_duration(o.job_duration));
  if (o.failure_rate < 0 || o.failure_rate > 1) {
    return Error(ErrorCode::usage, "--failure-rate must be between 0 and 1");
  }
  s.cluster.failure_rate = o.failure_rate;
  s.cluster.seed = o.seed;
  s.faults.seed = o.seed;
  for (const std::string& rule : o.fault_errors) {
    GPUORCH_ASSIGN_OR_RETURN(auto r, sandbox::ErrorRule::parse(rule));
    s.faults.errors.push_back(r);
  }
  GPUORCH_ASSIGN_OR_RETURN(s.faults.latency, sandbox::parse_duration(o.fault_latency));
  GPUORCH_ASSIGN_OR_RETURN(s.faults.watch_cut_after, sandbox::parse_duration(o.fault_watch_cut_after));
  s.faults.drop_rate = o.fault_drop_rate;
  s.faults.watch_cut_after_events = o.fault_watch_cut_events;
  s.faults.watch_gone_rate = o.fault_watch_gone_rate;
  if (o.fault_drop_rate < 0 || o.fault_drop_rate > 1 || o.fault_watch_gone_rate < 0 || o.fault_watch_gone_rate > 1) {
    return Error(ErrorCode::usage, "fault rates must be between 0 and 1");
  }
  return s;
}

int run_sandbox(Context& ctx, const SandboxOptions& opts) {
  auto options = build_options(opts);
  if (!options.ok()) {
    print_error(ctx.io.err, options.error());
    return exit_code_for(options.error());
  }
  // Block the signals before any thread starts, so every thread inherits
  // the mask and only sigwait() below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  sandbox::Sandbox sb(std::move(*options));
  if (Status started = sb.start(); !started.ok()) {
    print_error(ctx.io.err, started.error());
    return exit_code_for(started.error());
  }
  std::string kubeconfig_path = opts.kubeconfig_out;
  bool remove_kubeconfig = false;
  if (kubeconfig_path.empty()) {
    const char* tmpdir = std::getenv("TMPDIR");
    kubeconfig_path = std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") + "/gpuorch-sandbox-" +
                      std::to_string(sb.port()) + ".kubeconfig";
    remove_kubeconfig = true;
  }
  if (Status written = write_file_atomically(kubeconfig_path, sb.kubeconfig()); !written.ok()) {
    print_error(ctx.io.err, written.error());
    (void)sb.stop();
    return exit_code_for(written.error());
  }
  if (!opts.ready_file.empty()) {
    if (Status written = write_file_atomically(opts.ready_file, sb.url() + "\n"); !written.ok()) {
      print_error(ctx.io.err, written.error());
      (void)sb.stop();
      return exit_code_for(written.error());
    }
  }
  ctx.io.err << "gpuorch sandbox serving the Kubernetes API at " << sb.url() << '\n'
             << "kubeconfig: " << kubeconfig_path << '\n'
             << "use it with:\n  export KUBECONFIG=" << kubeconfig_path << "\n  kubectl get nodes\n"
             << "stop with Ctrl-C (SIGINT) or SIGTERM\n";
  ctx.io.err.flush();

  int sig = 0;
  sigwait(&signals, &sig);
  ctx.io.err << "gpuorch sandbox: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << " received, shutting down\n";
  const Status stopped = sb.stop();
  if (remove_kubeconfig) {
    std::remove(kubeconfig_path.c_str());
  }
  if (!opts.ready_file.empty()) {
    std::remove(opts.ready_file.c_str());
  }
  if (!stopped.ok()) {
    print_error(ctx.io.err, stopped.error());
    return exit_code_for(stopped.error());
  }
  return k_exit_ok;
}

}  // namespace

void setup_sandbox(CLI::App& root, Context& ctx) {
  auto opts = std::make_shared<SandboxOptions>();
  auto* cmd = root.add_subcommand("sandbox", "Run a local Kubernetes API server with simulated GPU nodes");
  const std::string server = "Server";
  cmd->add_option("--address", opts->address, "Address to listen on")->type_name("ADDR")->group(server);
  cmd->add_option("--port", opts->port, "Port to listen on (0: any free port)")
      ->type_name("PORT")
      ->check(CLI::Range(0, 65535))
      ->group(server);
  cmd->add_flag("--insecure-http", opts->insecure_http, "Serve plain HTTP instead of HTTPS (debugging only)")
      ->group(server);
  cmd->add_option("--token", opts->token, "Bearer token clients must send (default: random)")
      ->type_name("TOKEN")
      ->group(server);
  cmd->add_option("--kubeconfig-out", opts->kubeconfig_out, "Write the kubeconfig for the sandbox to FILE")
      ->type_name("FILE")
      ->group(server);
  cmd->add_option("--ready-file", opts->ready_file, "Create FILE (holding the server URL) once serving")
      ->type_name("FILE")
      ->group(server);
  cmd->add_option("--data", opts->data, "Persist the state in FILE (and FILE.journal) across restarts")
      ->type_name("FILE")
      ->group(server);
  cmd->add_option("--watch-history", opts->watch_history,
                  "Changes kept for resuming watches; older resource versions get 410 Gone")
      ->type_name("N")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10000000}))
      ->group(server);

  const std::string nodes = "Simulated nodes";
  cmd->add_option("--nodes", opts->nodes, "Number of GPU nodes in the default pool")
      ->type_name("N")
      ->check(CLI::Range(0, 100000))
      ->group(nodes)
      ->each([opts](const std::string&) { opts->nodes_given = true; });
  cmd->add_option("--gpus-per-node", opts->gpus_per_node, "Allocatable nvidia.com/gpu per node")
      ->type_name("N")
      ->check(CLI::Range(0, 1024))
      ->group(nodes);
  cmd->add_option("--gpu-model", opts->gpu_model, "GPU model (label nvidia.com/gpu.product)")
      ->type_name("MODEL")
      ->group(nodes);
  cmd->add_option("--cpu", opts->cpu, "Allocatable CPU per node (quantity)")->type_name("QTY")->group(nodes);
  cmd->add_option("--memory", opts->memory, "Allocatable memory per node (quantity)")->type_name("QTY")->group(nodes);
  cmd->add_option("--price", opts->price, "Cost per GPU-hour (label gpuorch.io/cost-per-gpu-hour)")
      ->type_name("PRICE")
      ->group(nodes);
  cmd->add_option("--node-pool", opts->pools,
                  "Add a pool: name=N,count=N,gpus=N,model=M,cpu=Q,memory=Q,price=P,label=K:V,taint=K=V:EFFECT "
                  "(repeatable)")
      ->type_name("SPEC")
      ->group(nodes);

  cmd->add_option("--node-file", opts->node_file,
                  "Add the nodes of FILE (any node format gpuorch simulate reads, e.g. the Alibaba node CSV)")
      ->type_name("FILE")
      ->group(nodes);

  const std::string sim = "Simulation";
  cmd->add_option("--job-duration", opts->job_duration,
                  "How long a Job's pod runs (pod annotation gpuorch.io/sandbox-duration overrides)")
      ->type_name("DURATION")
      ->group(sim);
  cmd->add_option("--failure-rate", opts->failure_rate, "Fraction of Job pods that fail")
      ->type_name("RATE")
      ->group(sim);
  cmd->add_option("--seed", opts->seed, "Seed of the simulation and the fault injection")->type_name("N")->group(sim);

  const std::string faults = "Fault injection";
  cmd->add_option("--fault-error", opts->fault_errors,
                  "Answer CODE (409, 429, 500, 503) to RATE of VERB requests on RESOURCE: VERB:RESOURCE:CODE:RATE, "
                  "'*' for any (repeatable)")
      ->type_name("RULE")
      ->group(faults);
  cmd->add_option("--fault-latency", opts->fault_latency, "Delay added to every API request")
      ->type_name("DURATION")
      ->group(faults);
  cmd->add_option("--fault-drop-rate", opts->fault_drop_rate, "Fraction of requests whose connection is dropped")
      ->type_name("RATE")
      ->group(faults);
  cmd->add_option("--fault-watch-cut-events", opts->fault_watch_cut_events, "End watch streams after N events")
      ->type_name("N")
      ->check(CLI::Range(0, 1000000000))
      ->group(faults);
  cmd->add_option("--fault-watch-cut-after", opts->fault_watch_cut_after, "End watch streams after DURATION")
      ->type_name("DURATION")
      ->group(faults);
  cmd->add_option("--fault-watch-gone-rate", opts->fault_watch_gone_rate,
                  "Fraction of watches answered with 410 Expired")
      ->type_name("RATE")
      ->group(faults);
  cmd->callback([&ctx, opts] { ctx.run = [&ctx, opts] { return run_sandbox(ctx, *opts); }; });
}

}  // namespace gpuorch::cli
