#pragma once

// HTTP(S) servers on 127.0.0.1 and a free port, started and stopped by tests.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#include <httplib.h>

#include <memory>
#include <string>
#include <thread>

#include <openssl/x509_vfy.h>

#include "unit/kube/test_pki.hpp"

namespace gpuorch::kube::testing {

class TestServer {
 public:
  /// Plain HTTP.
  TestServer() : m_server(std::make_unique<httplib::Server>()) {}
  /// HTTPS with `identity`; when `client_ca` is given, client certificates are required.
  TestServer(const Issued& identity, const Issued* client_ca) {
    X509_STORE* store = nullptr;
    if (client_ca != nullptr) {
      store = X509_STORE_new();
      X509_STORE_add_cert(store, client_ca->cert.get());
    }
    m_server = std::make_unique<httplib::SSLServer>(identity.cert.get(), identity.key.get(), store);
    m_tls = true;
  }
  ~TestServer() { stop(); }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  httplib::Server& http() { return *m_server; }

  void start() {
    m_server->set_tcp_nodelay(true);
    m_port = m_server->bind_to_any_port("127.0.0.1");
    m_thread = std::thread([this] { m_server->listen_after_bind(); });
    while (!m_server->is_running()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  void stop() {
    if (m_thread.joinable()) {
      m_server->stop();
      m_thread.join();
    }
  }
  [[nodiscard]] int port() const { return m_port; }
  [[nodiscard]] std::string url() const {
    return std::string(m_tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(m_port);
  }

 private:
  std::unique_ptr<httplib::Server> m_server;
  std::thread m_thread;
  int m_port = 0;
  bool m_tls = false;
};

}  // namespace gpuorch::kube::testing
