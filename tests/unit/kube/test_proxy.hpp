#pragma once

// An HTTP CONNECT proxy on 127.0.0.1 and a free port, for tests of proxy-url:
// it records every CONNECT target and tunnels only to 127.0.0.1 (any other
// target gets 502, so a test never reaches another address). A client that
// greets it in SOCKS5 instead gets a proxy that insists on GSS-API
// authentication: it records the methods offered, answers "GSS-API" and
// tunnels nothing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace gpuorch::kube::testing {

class ConnectProxy {
 public:
  ConnectProxy() {
    m_listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof(address);
    if (m_listener < 0 || ::bind(m_listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(m_listener, 16) != 0 ||
        ::getsockname(m_listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("ConnectProxy: cannot listen on 127.0.0.1");
    }
    m_port = ntohs(address.sin_port);
    m_acceptor = std::thread([this] { accept_loop(); });
  }
  ~ConnectProxy() {
    m_stop = true;
    ::shutdown(m_listener, SHUT_RDWR);
    m_acceptor.join();
    ::close(m_listener);
    for (auto& t : m_connections) {
      t.join();
    }
  }
  ConnectProxy(const ConnectProxy&) = delete;
  ConnectProxy& operator=(const ConnectProxy&) = delete;

  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }
  [[nodiscard]] std::string socks5_url() const { return "socks5://127.0.0.1:" + std::to_string(m_port); }
  /// The authentication methods of every SOCKS5 greeting (RFC 1928), in order.
  [[nodiscard]] std::vector<std::vector<int>> socks5_methods() const {
    std::lock_guard lock(m_mutex);
    return m_socks5_methods;
  }
  /// The "host:port" of every CONNECT request, in order.
  [[nodiscard]] std::vector<std::string> targets() const {
    std::lock_guard lock(m_mutex);
    return m_targets;
  }

 private:
  void accept_loop() {
    while (!m_stop) {
      const int client = ::accept(m_listener, nullptr, nullptr);
      if (client < 0) {
        continue;
      }
      if (m_stop) {
        ::close(client);
        break;
      }
      m_connections.emplace_back([this, client] { serve(client); });
    }
  }

  static bool send_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
      const auto sent = ::send(fd, data, size, MSG_NOSIGNAL);
      if (sent <= 0) {
        return false;
      }
      data += sent;
      size -= static_cast<std::size_t>(sent);
    }
    return true;
  }

  void serve(int client) {
    std::string head;
    std::array<char, 4096> buffer{};
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 16384) {
      const auto got = ::recv(client, buffer.data(), buffer.size(), 0);
      if (got <= 0) {
        ::close(client);
        return;
      }
      head.append(buffer.data(), static_cast<std::size_t>(got));
      if (head[0] == '\x05' && head.size() >= 2 && head.size() >= 2U + static_cast<unsigned char>(head[1])) {
        refuse_socks5(client, head);
        return;
      }
    }
    const auto line = head.substr(0, head.find("\r\n"));
    const auto first_space = line.find(' ');
    const auto second_space = line.find(' ', first_space + 1);
    const std::string method = line.substr(0, first_space);
    const std::string target = line.substr(first_space + 1, second_space - first_space - 1);
    {
      std::lock_guard lock(m_mutex);
      m_targets.push_back(method == "CONNECT" ? target : method + " " + target);
    }
    const auto colon = target.rfind(':');
    const std::string host = colon == std::string::npos ? std::string() : target.substr(0, colon);
    int upstream = -1;
    if (method == "CONNECT" && host == "127.0.0.1") {
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address.sin_port = htons(static_cast<std::uint16_t>(std::stoi(target.substr(colon + 1))));
      upstream = ::socket(AF_INET, SOCK_STREAM, 0);
      if (upstream >= 0 && ::connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
        ::close(upstream);
        upstream = -1;
      }
    }
    if (upstream < 0) {
      const std::string refusal = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
      send_all(client, refusal.data(), refusal.size());
      ::close(client);
      return;
    }
    const std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
    send_all(client, established.data(), established.size());
    // Anything the client sent after the request head belongs to the tunnel.
    const auto rest = head.substr(head.find("\r\n\r\n") + 4);
    bool open = send_all(upstream, rest.data(), rest.size());
    std::array<pollfd, 2> fds{pollfd{client, POLLIN, 0}, pollfd{upstream, POLLIN, 0}};
    while (open && !m_stop) {
      if (::poll(fds.data(), fds.size(), 100) <= 0) {
        continue;
      }
      for (std::size_t i = 0; i < fds.size() && open; ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
          continue;
        }
        const auto got = ::recv(fds[i].fd, buffer.data(), buffer.size(), 0);
        open = got > 0 && send_all(fds[1 - i].fd, buffer.data(), static_cast<std::size_t>(got));
      }
    }
    ::close(upstream);
    ::close(client);
  }

  void refuse_socks5(int client, const std::string& greeting) {
    std::vector<int> methods;
    for (std::size_t i = 2; i < 2 + static_cast<std::size_t>(static_cast<unsigned char>(greeting[1])); ++i) {
      methods.push_back(static_cast<unsigned char>(greeting[i]));
    }
    {
      std::lock_guard lock(m_mutex);
      m_socks5_methods.push_back(std::move(methods));
    }
    const std::array<char, 2> gssapi{'\x05', '\x01'};
    send_all(client, gssapi.data(), gssapi.size());
    // Until the client hangs up (or the proxy stops).
    std::array<char, 256> rest{};
    pollfd fd{client, POLLIN, 0};
    while (!m_stop) {
      if (::poll(&fd, 1, 100) > 0 && ::recv(client, rest.data(), rest.size(), 0) <= 0) {
        break;
      }
    }
    ::close(client);
  }

  int m_listener = -1;
  int m_port = 0;
  std::atomic<bool> m_stop{false};
  std::thread m_acceptor;
  std::vector<std::thread> m_connections;  // only the acceptor adds, the destructor joins after it
  mutable std::mutex m_mutex;
  std::vector<std::string> m_targets;
  std::vector<std::vector<int>> m_socks5_methods;
};

}  // namespace gpuorch::kube::testing
