#include "harness.hpp"

#include <algorithm>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gpuorch/kube/rest_config.hpp>
#include <gpuorch/model/crd.hpp>
#include <gpuorch/model/time.hpp>

extern char** environ;  // NOLINT

namespace gpuorch::chaos {

using nlohmann::json;

namespace {

/// Injected faults are meant for the reconciler; the test's own writes just
/// repeat until they are through.
constexpr int k_attempts = 200;

bool transient(const Error& e) {
  const int code = e.http_status();
  return code == 0 || code == 429 || code >= 500 || (code == 409 && e.reason() == "Conflict");
}

void pause_briefly(int attempt) {
  std::this_thread::sleep_for(std::chrono::milliseconds(std::min(5 + attempt * 5, 100)));
}

}  // namespace

Result<std::unique_ptr<Harness>> Harness::start(sandbox::SandboxOptions options, const std::filesystem::path& dir) {
  std::unique_ptr<Harness> h(new Harness());
  h->m_sandbox = std::make_unique<sandbox::Sandbox>(std::move(options));
  GPUORCH_TRY(h->m_sandbox->start());
  h->m_kubeconfig = (dir / "kubeconfig").string();
  {
    std::ofstream out(h->m_kubeconfig);
    out << h->m_sandbox->kubeconfig();
    if (!out) {
      return Error(ErrorCode::internal, "cannot write " + h->m_kubeconfig);
    }
  }
  kube::ConfigOverrides overrides;
  overrides.kubeconfig = h->m_kubeconfig;
  GPUORCH_ASSIGN_OR_RETURN(kube::RestConfig config,
                           kube::load_rest_config(overrides, kube::Environment({}), kube::RealFileSystem()));
  kube::ClientOptions client_options;
  client_options.qps = 0;  // the test's own setup is not what is measured
  client_options.user_agent = "gpuorch-chaos";
  GPUORCH_ASSIGN_OR_RETURN(h->m_client, kube::Client::create(config, client_options, kube::Environment({})));
  // The CRD goes in before any fault is switched on.
  GPUORCH_ASSIGN_OR_RETURN(
      auto created, h->m_client->create(kube::resources::custom_resource_definitions(), "", model::workload_crd()));
  (void)created;
  for (int i = 0; i < 500 && !h->m_sandbox->store().find_type("gpuorch.io", "v1alpha1", "gpuworkloads"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!h->m_sandbox->store().find_type("gpuorch.io", "v1alpha1", "gpuworkloads")) {
    return Error(ErrorCode::internal, "the GPUWorkload CRD was not served within 5 s");
  }
  return h;
}

Harness::~Harness() {
  // Closes the client's keep-alive connections first: the server waits for them.
  m_client.reset();
  if (m_sandbox) {
    (void)m_sandbox->stop();
  }
}

Result<std::shared_ptr<kube::Client>> Harness::new_client(kube::ClientOptions options) const {
  kube::ConfigOverrides overrides;
  overrides.kubeconfig = m_kubeconfig;
  GPUORCH_ASSIGN_OR_RETURN(kube::RestConfig config,
                           kube::load_rest_config(overrides, kube::Environment({}), kube::RealFileSystem()));
  return kube::Client::create(config, options, kube::Environment({}));
}

Status Harness::create_namespace(const std::string& name) {
  auto& store = m_sandbox->store();
  const auto type = store.find_type("", "v1", "namespaces");
  GPUORCH_ASSIGN_OR_RETURN(
      auto created,
      store.create(*type, "", json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}}));
  (void)created;
  return {};
}

Status Harness::create_workload(const json& workload) {
  const std::string ns = workload["metadata"].value("namespace", "default");
  std::optional<Error> last;
  for (int attempt = 0; attempt < k_attempts; ++attempt) {
    auto created = m_client->create(kube::resources::gpu_workloads(), ns, workload);
    if (created.ok()) {
      return {};
    }
    if (created.error().reason() == "AlreadyExists") {
      return {};  // an earlier attempt went through but its answer was lost
    }
    if (!transient(created.error())) {
      return created.error();
    }
    last = created.error();
    pause_briefly(attempt);
  }
  return *last;
}

Status Harness::delete_workload(const std::string& ns, const std::string& name) {
  std::optional<Error> last;
  for (int attempt = 0; attempt < k_attempts; ++attempt) {
    auto removed = m_client->remove(kube::resources::gpu_workloads(), ns, name);
    if (removed.ok() || removed.error().code() == ErrorCode::not_found) {
      return {};
    }
    if (!transient(removed.error())) {
      return removed.error();
    }
    last = removed.error();
    pause_briefly(attempt);
  }
  return *last;
}

Status Harness::create_workload_in_store(const json& workload) {
  auto& store = m_sandbox->store();
  const auto type = store.find_type("gpuorch.io", "v1alpha1", "gpuworkloads");
  GPUORCH_ASSIGN_OR_RETURN(auto created,
                           store.create(*type, workload["metadata"].value("namespace", "default"), workload));
  (void)created;
  return {};
}

std::size_t Harness::expire_leases() {
  auto& store = m_sandbox->store();
  const auto type = store.find_type("coordination.k8s.io", "v1", "leases");
  std::vector<std::pair<std::string, std::string>> names;
  store.for_each(*type, [&](const json& lease) {
    names.emplace_back(lease["metadata"].value("namespace", ""), lease["metadata"].value("name", ""));
  });
  std::size_t changed = 0;
  for (const auto& [ns, name] : names) {
    auto done = store.mutate(*type, ns, name, sandbox::Subresource::none, "gpuorch-chaos", [](json& lease) {
      json& spec = lease["spec"];
      if (!spec.is_object() || spec.value("holderIdentity", "").empty()) {
        return false;
      }
      const auto duration = std::chrono::seconds(spec.value("leaseDurationSeconds", 15));
      spec["renewTime"] = model::format_time(std::chrono::system_clock::now() - duration - std::chrono::seconds(5),
                                             model::TimePrecision::microseconds);
      return true;
    });
    changed += done.ok() ? 1U : 0U;
  }
  return changed;
}

std::vector<json> Harness::workloads() {
  std::vector<json> out;
  auto& store = m_sandbox->store();
  store.for_each(*store.find_type("gpuorch.io", "v1alpha1", "gpuworkloads"), [&](const json& w) { out.push_back(w); });
  return out;
}

std::string Harness::lease_holder(const std::string& ns, const std::string& name) {
  auto& store = m_sandbox->store();
  const auto type = store.find_type("coordination.k8s.io", "v1", "leases");
  std::string holder;
  store.for_each(*type, [&](const json& lease) {
    if (lease["metadata"].value("namespace", "") == ns && lease["metadata"].value("name", "") == name) {
      holder = lease.value("spec", json::object()).value("holderIdentity", "");
    }
  });
  return holder;
}

std::vector<json> Harness::jobs() {
  std::vector<json> out;
  auto& store = m_sandbox->store();
  store.for_each(*store.find_type("batch", "v1", "jobs"), [&](const json& j) { out.push_back(j); });
  return out;
}

ReconcileProcess::ReconcileProcess(const std::string& binary, const std::string& kubeconfig,
                                   std::vector<std::string> args, const std::filesystem::path& log)
    : ReconcileProcess(binary, kubeconfig, std::move(args), log, {}) {}

ReconcileProcess::ReconcileProcess(const std::string& binary, const std::string& kubeconfig,
                                   std::vector<std::string> args, const std::filesystem::path& log,
                                   const std::vector<std::string>& env) {
  std::vector<std::string> argv_strings = {binary, "--kubeconfig", kubeconfig, "reconcile"};
  for (auto& a : args) {
    argv_strings.push_back(std::move(a));
  }
  std::vector<char*> argv;
  argv.reserve(argv_strings.size() + 1);
  for (auto& a : argv_strings) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log_path = log.string();
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  m_start = std::chrono::steady_clock::now();
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const auto name = entry.substr(0, entry.find('=') + 1);
    if (std::none_of(env.begin(), env.end(), [&](const std::string& x) { return x.rfind(name, 0) == 0; })) {
      env_strings.push_back(entry);
    }
  }
  env_strings.insert(env_strings.end(), env.begin(), env.end());
  std::vector<char*> envp;
  envp.reserve(env_strings.size() + 1);
  for (auto& e : env_strings) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  const int rc = ::posix_spawn(&m_pid, binary.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    throw std::runtime_error("cannot start " + binary + ": " + std::strerror(rc));  // NOLINT(concurrency-mt-unsafe)
  }
}

ReconcileProcess::~ReconcileProcess() {
  if (m_pid > 0) {
    ::kill(m_pid, SIGKILL);
    ::waitpid(m_pid, nullptr, 0);
  }
}

bool ReconcileProcess::running() const {
  if (m_pid <= 0) {
    return false;
  }
  siginfo_t info{};
  // WNOWAIT: look without reaping, so that wait() still collects the status.
  return ::waitid(P_PID, static_cast<id_t>(m_pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
}

void ReconcileProcess::send(int signal) {
  if (m_pid > 0) {
    ::kill(m_pid, signal);
  }
}

PassResult ReconcileProcess::wait(std::optional<std::chrono::milliseconds> kill_after) {
  PassResult result;
  int status = 0;
  bool sent_kill = false;
  for (;;) {
    struct rusage usage {};
    const pid_t done = ::wait4(m_pid, &status, kill_after && !sent_kill ? WNOHANG : 0, &usage);
    if (done == m_pid) {
      result.max_rss_kib = usage.ru_maxrss;
      result.cpu = std::chrono::milliseconds(usage.ru_utime.tv_sec * 1000 + usage.ru_utime.tv_usec / 1000 +
                                             usage.ru_stime.tv_sec * 1000 + usage.ru_stime.tv_usec / 1000);
    }
    if (done == m_pid) {
      break;
    }
    if (done < 0 && errno != EINTR) {
      throw std::runtime_error("waitpid failed");
    }
    if (kill_after && !sent_kill && std::chrono::steady_clock::now() - m_start >= *kill_after) {
      ::kill(m_pid, SIGKILL);
      sent_kill = true;
      continue;
    }
    if (kill_after && !sent_kill) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  m_pid = -1;
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - m_start);
  if (WIFSIGNALED(status)) {
    result.killed = sent_kill && WTERMSIG(status) == SIGKILL;
    result.exit_code = 128 + WTERMSIG(status);
  } else {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

std::string tail_file(const std::filesystem::path& path, std::size_t lines) {
  std::ifstream in(path);
  std::deque<std::string> kept;
  std::string line;
  while (std::getline(in, line)) {
    kept.push_back(line);
    if (kept.size() > lines) {
      kept.pop_front();
    }
  }
  std::string out;
  for (const auto& l : kept) {
    out += l + "\n";
  }
  return out;
}

json make_workload(std::mt19937_64& rng, const std::string& ns, const std::string& name) {
  static constexpr std::array<int, 8> k_sizes = {1, 1, 1, 2, 2, 4, 4, 8};
  static constexpr std::array<int, 4> k_priorities = {0, 10, 100, 1000};
  static constexpr std::array<const char*, 5> k_strategies = {"LeastLoaded", "BestFit", "Random", "CostOptimized",
                                                              "MinFragmentation"};
  auto pick = [&rng](std::size_t n) { return rng() % n; };
  json w = {{"apiVersion", "gpuorch.io/v1alpha1"},
            {"kind", "GPUWorkload"},
            {"metadata", {{"name", name}, {"namespace", ns}}},
            {"spec",
             {{"modelName", "model-" + std::to_string(pick(20))},
              {"gpuCount", k_sizes.at(pick(k_sizes.size()))},
              {"priority", k_priorities.at(pick(k_priorities.size()))},
              {"schedulingStrategy", k_strategies.at(pick(k_strategies.size()))},
              {"image", "registry.example/train:1"},
              {"retryPolicy",
               {{"maxRetries", static_cast<int>(pick(4))}, {"backoffSeconds", 1}, {"maxBackoffSeconds", 1}}}}}};
  return w;
}

}  // namespace gpuorch::chaos
