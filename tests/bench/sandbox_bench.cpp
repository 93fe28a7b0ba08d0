// Throughput of the sandbox API server over HTTPS with keep-alive: GETs/s,
// writes/s, and watch fan-out (events delivered per second to W watchers).
// A driver, not a Google Benchmark: it measures a server under concurrent
// load for a fixed time. Results go to docs/benchmarks.md.
//
//   bench_sandbox [--seconds S] [--threads N] [--watchers W] [--events E]

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <curl/curl.h>

#include <gpuorch/sandbox/sandbox.hpp>

namespace {

using Clock = std::chrono::steady_clock;

struct Client {
  CURL* curl = nullptr;
  curl_slist* headers = nullptr;
  curl_slist* patch_headers = nullptr;
  std::string body;

  Client(const std::string& token, const std::string& ca) {
    curl = curl_easy_init();
    headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: application/json");
    patch_headers = curl_slist_append(patch_headers, ("Authorization: Bearer " + token).c_str());
    patch_headers = curl_slist_append(patch_headers, "Content-Type: application/merge-patch+json");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_blob blob{const_cast<char*>(ca.data()), ca.size(), CURL_BLOB_COPY};
    curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
    curl_easy_setopt(
        curl, CURLOPT_WRITEFUNCTION, +[](char* p, size_t s, size_t n, void* ud) {
          static_cast<std::string*>(ud)->append(p, s * n);
          return s * n;
        });
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  }
  ~Client() {
    curl_slist_free_all(headers);
    curl_slist_free_all(patch_headers);
    curl_easy_cleanup(curl);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  long request(const char* method, const std::string& url, const std::string& payload = {}) {
    body.clear();
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, std::strcmp(method, "PATCH") == 0 ? patch_headers : headers);
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (!payload.empty()) {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
    } else {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, nullptr);
      curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    }
    if (curl_easy_perform(curl) != CURLE_OK) {
      return 0;
    }
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    return code;
  }
};

std::string ca_of(const std::string& kubeconfig) {
  const std::string key = "certificate-authority-data: ";
  const auto at = kubeconfig.find(key);
  const auto end = kubeconfig.find('\n', at);
  const std::string b64 = kubeconfig.substr(at + key.size(), end - at - key.size());
  std::string out(b64.size(), '\0');
  static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  unsigned val = 0;
  int bits = -8;
  std::size_t n = 0;
  for (char c : b64) {
    const auto pos = alphabet.find(c);
    if (pos == std::string::npos) {
      break;
    }
    val = (val << 6) + static_cast<unsigned>(pos);
    bits += 6;
    if (bits >= 0) {
      out[n++] = static_cast<char>((val >> bits) & 0xFF);
      bits -= 8;
    }
  }
  out.resize(n);
  return out;
}

const char* arg(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) {
      return argv[i + 1];
    }
  }
  return fallback;
}

std::string lease(const std::string& name) {
  return R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":")" + name +
         R"("},"spec":{"holderIdentity":"bench","leaseDurationSeconds":15}})";
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = std::atof(arg(argc, argv, "--seconds", "3"));
  const int threads = std::atoi(arg(argc, argv, "--threads", "4"));
  const int watchers = std::atoi(arg(argc, argv, "--watchers", "50"));
  const int events = std::atoi(arg(argc, argv, "--events", "200"));
  curl_global_init(CURL_GLOBAL_DEFAULT);

  gpuorch::sandbox::SandboxOptions options;
  options.cluster.pools.clear();
  options.server.threads = static_cast<std::size_t>(threads + watchers + 16);
  gpuorch::sandbox::Sandbox sandbox(options);
  if (auto started = sandbox.start(); !started.ok()) {
    std::fprintf(stderr, "bench_sandbox: %s\n", started.error().message().c_str());
    return 1;
  }
  const std::string ca = ca_of(sandbox.kubeconfig());
  const std::string base = sandbox.url() + "/apis/coordination.k8s.io/v1/namespaces/default/leases";
  {
    Client c(sandbox.token(), ca);
    if (c.request("POST", base, lease("bench")) != 201) {
      std::fprintf(stderr, "bench_sandbox: cannot create the lease: %s\n", c.body.c_str());
      return 1;
    }
  }
  std::printf("sandbox at %s, %d client threads, %.1f s per phase\n", sandbox.url().c_str(), threads, seconds);

  const auto run_phase = [&](const char* what, auto&& one_request) {
    std::atomic<long> ok{0};
    std::atomic<long> bad{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> pool;
    const auto start = Clock::now();
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        Client c(sandbox.token(), ca);
        long i = 0;
        while (!stop) {
          (one_request(c, t, i++) ? ok : bad)++;
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& th : pool) {
      th.join();
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("%-28s %10.0f /s   (%ld ok, %ld failed)\n", what, static_cast<double>(ok) / elapsed, ok.load(),
                bad.load());
  };

  run_phase("GET one lease", [&](Client& c, int, long) { return c.request("GET", base + "/bench") == 200; });
  run_phase("LIST leases (1 item)", [&](Client& c, int, long) {
    return c.request("GET", base + "?fieldSelector=metadata.name%3Dbench") == 200;
  });
  run_phase("POST (create) leases", [&](Client& c, int t, long i) {
    return c.request("POST", base, lease("w-" + std::to_string(t) + "-" + std::to_string(i))) == 201;
  });
  run_phase("PATCH (merge) one lease", [&](Client& c, int t, long i) {
    return c.request("PATCH", base + "/bench",
                     R"({"spec":{"holderIdentity":"t)" + std::to_string(t) + "-" + std::to_string(i) + R"("}})") == 200;
  });

  // Watch fan-out: W watchers on the leases; one writer makes E changes.
  std::string rv;
  {
    Client c(sandbox.token(), ca);
    c.request("GET", base + "/bench");
    const auto at = c.body.find("\"resourceVersion\":\"");
    rv = c.body.substr(at + 19, c.body.find('"', at + 19) - at - 19);
  }
  std::vector<std::atomic<int>> seen(static_cast<std::size_t>(watchers));
  std::atomic<bool> stop_watch{false};
  std::vector<std::thread> watch_threads;
  struct WatchState {
    std::atomic<int>* count;
    std::atomic<bool>* stop;
  };
  for (int w = 0; w < watchers; ++w) {
    watch_threads.emplace_back([&, w] {
      Client c(sandbox.token(), ca);
      WatchState state{&seen[static_cast<std::size_t>(w)], &stop_watch};
      curl_easy_setopt(
          c.curl, CURLOPT_WRITEFUNCTION, +[](char* p, size_t s, size_t n, void* ud) {
            auto* st = static_cast<WatchState*>(ud);
            for (size_t i = 0; i < s * n; ++i) {
              if (p[i] == '\n') {
                st->count->fetch_add(1);
              }
            }
            return st->stop->load() ? size_t{0} : s * n;
          });
      curl_easy_setopt(c.curl, CURLOPT_WRITEDATA, &state);
      c.request("GET", base + "?watch=1&fieldSelector=metadata.name%3Dbench&timeoutSeconds=60&resourceVersion=" + rv);
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto start = Clock::now();
  {
    Client c(sandbox.token(), ca);
    for (int e = 0; e < events; ++e) {
      c.request("PATCH", base + "/bench", R"({"spec":{"holderIdentity":"e)" + std::to_string(e) + R"("}})");
    }
  }
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  bool all = false;
  while (Clock::now() < deadline && !all) {
    all = true;
    for (auto& s : seen) {
      all = all && s.load() >= events;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  long delivered = 0;
  for (auto& s : seen) {
    delivered += s.load();
  }
  std::printf("watch fan-out: %d watchers x %d changes: %ld events delivered in %.3f s = %.0f events/s%s\n", watchers,
              events, delivered, elapsed, static_cast<double>(delivered) / elapsed, all ? "" : " (INCOMPLETE)");
  stop_watch = true;
  // Wake the watch streams so that their write callbacks can abort them.
  {
    Client c(sandbox.token(), ca);
    c.request("PATCH", base + "/bench", R"({"spec":{"holderIdentity":"end"}})");
  }
  for (auto& th : watch_threads) {
    th.join();
  }
  (void)sandbox.stop();
  curl_global_cleanup();
  return all ? 0 : 1;
}
