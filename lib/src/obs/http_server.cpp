#include <gpuorch/obs/http_server.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <thread>

#include <httplib.h>
#include <spdlog/spdlog.h>

namespace gpuorch::obs {

namespace {

constexpr const char* k_plain = "text/plain; charset=utf-8";

Error bad_address(std::string_view value, std::string_view why) {
  return Error(ErrorCode::usage, "invalid listen address \"" + std::string(value) + "\": " + std::string(why) +
                                     " (examples: :8080, 127.0.0.1:8080, [::1]:8080, 0 to disable)");
}

/// Why binding `address` failed, asked of the OS with a socket of our own
/// (cpp-httplib only reports that it failed). Set up like cpp-httplib's
/// listening socket (SO_REUSEADDR), so the answer is the one it got.
std::string bind_failure_reason(const ListenAddress& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string host = address.host.empty() ? "0.0.0.0" : address.host;
  const std::string port = std::to_string(address.port);
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return gai_strerror(rc);
  }
  std::string reason = "unknown error";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) {
      reason = std::strerror(errno);
      continue;
    }
    const int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      reason = std::strerror(errno);
      ::close(fd);
      continue;
    }
    if (::listen(fd, 1) != 0) {
      reason = std::strerror(errno);
      ::close(fd);
      continue;
    }
    ::close(fd);
    reason = "the address was busy for a moment";
    break;
  }
  freeaddrinfo(found);
  for (auto& c : reason) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return reason;
}

void answer_checks(const std::vector<HealthCheck>& checks, std::string_view endpoint, const httplib::Request& req,
                   httplib::Response& res) {
  const bool verbose = req.has_param("verbose");
  // /healthz/<name>: that one check.
  const std::string prefix = "/" + std::string(endpoint) + "/";
  if (req.path.starts_with(prefix)) {
    const std::string name = req.path.substr(prefix.size());
    for (const auto& check : checks) {
      if (check.name == name) {
        const auto report = run_checks({check}, endpoint, verbose);
        res.status = report.ok ? 200 : 500;
        res.set_content(report.body, k_plain);
        return;
      }
    }
    res.status = 404;
    res.set_content("no " + std::string(endpoint) + " check named \"" + name + "\"\n", k_plain);
    return;
  }
  const auto report = run_checks(checks, endpoint, verbose);
  res.status = report.ok ? 200 : 500;
  res.set_content(report.body, k_plain);
}

}  // namespace

std::string ListenAddress::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<std::optional<ListenAddress>> parse_listen_address(std::string_view value) {
  if (value == "0") {
    return std::optional<ListenAddress>();
  }
  if (value.empty()) {
    return bad_address(value, "empty");
  }
  const auto colon = value.rfind(':');
  if (colon == std::string_view::npos) {
    return bad_address(value, "no port");
  }
  std::string_view host = value.substr(0, colon);
  const std::string_view port_text = value.substr(colon + 1);
  if (host.starts_with('[')) {
    if (!host.ends_with(']') || host.size() < 3) {
      return bad_address(value, "unbalanced brackets around the IPv6 address");
    }
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad_address(value, "an IPv6 address needs brackets, e.g. [::1]:8080");
  }
  int port = -1;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 ||
      port > 65535) {
    return bad_address(value, "the port must be a number from 0 to 65535");
  }
  return std::optional<ListenAddress>(ListenAddress{std::string(host), port});
}

CheckReport run_checks(const std::vector<HealthCheck>& checks, std::string_view endpoint, bool verbose) {
  CheckReport report;
  std::string lines;
  for (const auto& check : checks) {
    Status status = check.check ? check.check() : Status();
    if (status.ok()) {
      lines += "[+]" + check.name + " ok\n";
    } else {
      report.ok = false;
      lines += "[-]" + check.name + " failed: " + status.error().message() + "\n";
    }
  }
  if (report.ok) {
    report.body = verbose ? lines + std::string(endpoint) + " check passed\n" : "ok";
  } else {
    report.body = lines + std::string(endpoint) + " check failed\n";
  }
  return report;
}

struct EndpointServer::Impl {
  Endpoints endpoints;
  httplib::Server server;
  std::thread thread;
  ListenAddress address;
  int port = -1;
};

EndpointServer::EndpointServer(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

EndpointServer::~EndpointServer() {
  stop();
}

Result<std::unique_ptr<EndpointServer>> EndpointServer::start(const ListenAddress& address, Endpoints endpoints,
                                                              std::string_view what) {
  auto impl = std::make_unique<Impl>();
  impl->endpoints = std::move(endpoints);
  impl->address = address;
  Impl& state = *impl;
  httplib::Server& svr = state.server;
  // Scrapes and probes are few and short: a handful of threads, short timeouts.
  svr.new_task_queue = [] { return new httplib::ThreadPool(4); };
  svr.set_read_timeout(10, 0);
  svr.set_write_timeout(10, 0);
  svr.set_keep_alive_timeout(30);
  svr.set_payload_max_length(1 << 16);
  // cpp-httplib's default sets SO_REUSEPORT, which lets a second process bind
  // the same port and silently take half the scrapes. SO_REUSEADDR alone
  // still allows a restart while old connections linger in TIME_WAIT.
  svr.set_socket_options([](socket_t sock) {
    const int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  if (state.endpoints.metrics != nullptr) {
    svr.Get("/metrics", [&state](const httplib::Request&, httplib::Response& res) {
      res.set_content(state.endpoints.metrics->expose(), k_text_content_type);
    });
  }
  if (state.endpoints.serve_healthz) {
    svr.Get(R"(/healthz(/[^/]+)?)", [&state](const httplib::Request& req, httplib::Response& res) {
      answer_checks(state.endpoints.healthz, "healthz", req, res);
    });
  }
  if (state.endpoints.serve_readyz) {
    svr.Get(R"(/readyz(/[^/]+)?)", [&state](const httplib::Request& req, httplib::Response& res) {
      answer_checks(state.endpoints.readyz, "readyz", req, res);
    });
  }
  svr.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.body.empty() && res.status == 404) {
      res.set_content("404 page not found: " + req.path + "\n", k_plain);
    }
  });
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, const std::exception_ptr& ep) {
    std::string why = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      why = e.what();
    } catch (...) {
    }
    res.status = 500;
    res.set_content("internal error: " + why + "\n", k_plain);
  });
  const std::string host = address.host.empty() ? "0.0.0.0" : address.host;
  if (address.port == 0) {
    state.port = svr.bind_to_any_port(host);
  } else {
    state.port = svr.bind_to_port(host, address.port) ? address.port : -1;
  }
  if (state.port <= 0) {
    return Error(ErrorCode::io, "cannot listen on " + address.to_string() + " (" + std::string(what) +
                                    "): " + bind_failure_reason(address));
  }
  state.thread = std::thread([&svr] { svr.listen_after_bind(); });
  // listen_after_bind runs on its own thread; wait until it accepts, so the
  // caller can hand the address out at once.
  for (int i = 0; i < 5000 && !svr.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::unique_ptr<EndpointServer> server(new EndpointServer(std::move(impl)));
  spdlog::info("{}: serving on {}", what, server->address());
  return server;
}

int EndpointServer::port() const {
  return m_impl->port;
}

std::string EndpointServer::address() const {
  return ListenAddress{m_impl->address.host, m_impl->port}.to_string();
}

void EndpointServer::stop() {
  if (!m_impl) {
    return;
  }
  if (m_impl->thread.joinable()) {
    m_impl->server.stop();
    m_impl->thread.join();
  }
}

Result<std::unique_ptr<ObservabilityServers>> ObservabilityServers::start(Config config) {
  std::unique_ptr<ObservabilityServers> servers(new ObservabilityServers());
  const bool same = config.metrics_address && config.health_address && config.metrics_address->port != 0 &&
                    *config.metrics_address == *config.health_address;
  if (config.metrics_address) {
    Endpoints endpoints;
    endpoints.metrics = config.registry;
    if (same) {
      endpoints.serve_healthz = true;
      endpoints.healthz = config.healthz;
      endpoints.serve_readyz = true;
      endpoints.readyz = config.readyz;
    }
    GPUORCH_ASSIGN_OR_RETURN(auto server,
                             EndpointServer::start(*config.metrics_address, std::move(endpoints),
                                                   same ? "--metrics-addr and --health-addr" : "--metrics-addr"));
    servers->m_metrics = server.get();
    if (same) {
      servers->m_health = server.get();
    }
    servers->m_servers.push_back(std::move(server));
  }
  if (config.health_address && !same) {
    Endpoints endpoints;
    endpoints.serve_healthz = true;
    endpoints.healthz = std::move(config.healthz);
    endpoints.serve_readyz = true;
    endpoints.readyz = std::move(config.readyz);
    GPUORCH_ASSIGN_OR_RETURN(auto server,
                             EndpointServer::start(*config.health_address, std::move(endpoints), "--health-addr"));
    servers->m_health = server.get();
    servers->m_servers.push_back(std::move(server));
  }
  return servers;
}

void ObservabilityServers::stop() {
  for (auto& server : m_servers) {
    server->stop();
  }
}

}  // namespace gpuorch::obs
