#include <gpuorch/sandbox/sandbox.hpp>

#include <optional>

#include <gpuorch/sandbox/persistence.hpp>
#include <gpuorch/sandbox/tls.hpp>

namespace gpuorch::sandbox {

using nlohmann::json;

struct Sandbox::Impl {
  explicit Impl(SandboxOptions o)
      : options(std::move(o)),
        store(StoreOptions{options.watch_history, 200000, [] { return std::chrono::system_clock::now(); }, 0}),
        faults(options.faults),
        cluster(store, options.cluster) {
    token_given = !options.server.token.empty();
    if (!token_given) {
      options.server.token = generate_token();
    }
  }

  SandboxOptions options;
  Store store;
  FaultInjector faults;
  SimulatedCluster cluster;
  std::unique_ptr<FileJournal> journal;
  std::unique_ptr<ApiServer> server;
  TlsMaterial tls;
  bool token_given = false;
  bool running = false;
};

Sandbox::Sandbox(SandboxOptions options) : m_impl(std::make_unique<Impl>(std::move(options))) {}

Sandbox::~Sandbox() {
  (void)stop();
}

Status Sandbox::start() {
  Impl& impl = *m_impl;
  if (!impl.options.data_file.empty()) {
    impl.journal = std::make_unique<FileJournal>(impl.options.data_file);
    GPUORCH_ASSIGN_OR_RETURN(const bool restored, impl.journal->open(impl.store));
    (void)restored;
    impl.store.set_journal(impl.journal.get());
  }
  GPUORCH_TRY(impl.cluster.create_nodes());
  std::vector<std::string> hosts;
  if (impl.options.server.tls) {
    hosts = {"127.0.0.1", "localhost"};
    const std::string& address = impl.options.server.address;
    if (address != "127.0.0.1" && address != "localhost" && address != "0.0.0.0" && address != "::") {
      hosts.push_back(address);
    }
    if (address == "::" || address == "::1") {
      hosts.emplace_back("::1");
    }
  }
  // With --data, the kubeconfig of the previous run stays valid: same CA and
  // serving certificate (while the names fit), same token (unless --token
  // sets another), and the same port when --port is 0 and it is free.
  std::optional<Credentials> saved;
  if (!impl.options.data_file.empty()) {
    GPUORCH_ASSIGN_OR_RETURN(saved, load_credentials(impl.options.data_file));
  }
  if (saved && !impl.token_given) {
    impl.options.server.token = saved->token;
  }
  if (impl.options.server.tls) {
    if (saved && saved->hosts == hosts && !saved->tls.cert_pem.empty() && !saved->tls.key_pem.empty()) {
      impl.tls = saved->tls;
    } else {
      GPUORCH_ASSIGN_OR_RETURN(impl.tls, generate_tls(hosts));
    }
  }
  const int wanted_port = impl.options.server.port;
  if (wanted_port == 0 && saved && saved->port > 0) {
    ServerOptions previous = impl.options.server;
    previous.port = saved->port;
    auto server = std::make_unique<ApiServer>(impl.store, impl.faults, previous);
    if (server->start(impl.options.server.tls ? &impl.tls : nullptr).ok()) {
      impl.server = std::move(server);
    }
  }
  if (!impl.server) {
    impl.server = std::make_unique<ApiServer>(impl.store, impl.faults, impl.options.server);
    GPUORCH_TRY(impl.server->start(impl.options.server.tls ? &impl.tls : nullptr));
  }
  if (!impl.options.data_file.empty()) {
    GPUORCH_TRY(save_credentials(impl.options.data_file,
                                 Credentials{impl.tls, impl.options.server.token, impl.server->port(), hosts}));
  }
  impl.server->set_control_handler([this](const std::string& method, const std::string& path, const std::string&) {
    if (path == "stats" && method == "GET") {
      return std::pair<int, json>(200, stats());
    }
    return std::pair<int, json>(404, json{{"kind", "Status"},
                                          {"apiVersion", "v1"},
                                          {"metadata", json::object()},
                                          {"status", "Failure"},
                                          {"message", "no such sandbox control endpoint: " + method + " " + path},
                                          {"reason", "NotFound"},
                                          {"code", 404}});
  });
  impl.cluster.start();
  impl.running = true;
  return {};
}

Status Sandbox::stop() {
  Impl& impl = *m_impl;
  if (!impl.running) {
    return {};
  }
  impl.running = false;
  if (impl.server) {
    impl.server->stop();
  }
  impl.cluster.stop();
  if (impl.journal) {
    impl.store.set_journal(nullptr);
    return impl.journal->compact(impl.store);
  }
  return {};
}

std::string Sandbox::url() const {
  return m_impl->server ? m_impl->server->url() : std::string();
}

int Sandbox::port() const {
  return m_impl->server ? m_impl->server->port() : 0;
}

std::string Sandbox::kubeconfig() const {
  return make_kubeconfig(m_impl->options.name, url(), m_impl->options.server.tls ? m_impl->tls.ca_cert_pem : "",
                         m_impl->options.server.token);
}

const std::string& Sandbox::token() const {
  return m_impl->options.server.token;
}

json Sandbox::stats() const {
  json faults = json::object();
  for (const auto& [kind, n] : m_impl->faults.counters()) {
    faults[kind] = n;
  }
  return {{"cluster", m_impl->cluster.stats().to_json()},
          {"faults", faults},
          {"requests", m_impl->server ? m_impl->server->request_counts() : json::object()},
          {"resourceVersion", std::to_string(m_impl->store.resource_version())}};
}

Store& Sandbox::store() {
  return m_impl->store;
}

SimulatedCluster& Sandbox::cluster() {
  return m_impl->cluster;
}

FaultInjector& Sandbox::faults() {
  return m_impl->faults;
}

}  // namespace gpuorch::sandbox
