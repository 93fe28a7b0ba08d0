#include "kube_connect.hpp"

#include <ostream>

#include <unistd.h>

extern char** environ;  // NOLINT: POSIX

namespace gpuorch::cli {

kube::ConfigOverrides config_overrides(const GlobalOptions& global) {
  kube::ConfigOverrides overrides;
  overrides.kubeconfig = global.kubeconfig;
  overrides.context = global.context;
  overrides.cluster = global.cluster;
  overrides.user = global.user;
  overrides.namespace_name = global.namespace_name;
  overrides.server = global.server;
  overrides.token = global.token;
  overrides.certificate_authority = global.certificate_authority;
  overrides.client_certificate = global.client_certificate;
  overrides.client_key = global.client_key;
  overrides.tls_server_name = global.tls_server_name;
  if (global.insecure_skip_tls_verify) {
    overrides.insecure_skip_tls_verify = true;
  }
  overrides.request_timeout = global.request_timeout;
  overrides.in_cluster = global.in_cluster;
  return overrides;
}

kube::Environment process_environment() {
  return kube::Environment::from_envp(environ);
}

Result<std::shared_ptr<kube::Client>> connect(Context& ctx, kube::ClientOptions options) {
  auto env = process_environment();
  kube::RealFileSystem fs;
  GPUORCH_ASSIGN_OR_RETURN(auto config, kube::load_rest_config(config_overrides(ctx.global), env, fs));
  options.verbosity = ctx.global.verbosity;
  options.stdin_is_terminal = ::isatty(STDIN_FILENO) == 1;
  GPUORCH_ASSIGN_OR_RETURN(auto client, kube::Client::create(std::move(config), options, std::move(env)));
  std::ostream* err = &ctx.io.err;
  client->set_warning_handler([err](const std::string& text) { *err << "Warning: " << text << '\n'; });
  return client;
}

StopBridge::StopBridge(const CancelToken& cancel)
    : m_thread([this, &cancel](std::stop_token own) {
        while (!own.stop_requested()) {
          if (cancel.cancelled()) {
            m_source.request_stop();
            return;
          }
          std::this_thread::sleep_for(CancelToken::k_poll_interval);
        }
      }) {}

StopBridge::~StopBridge() {
  m_thread.request_stop();
  m_thread.join();
}

}  // namespace gpuorch::cli
