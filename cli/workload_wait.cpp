#include "workload_wait.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <ostream>
#include <set>
#include <stop_token>
#include <thread>

#include <gpuorch/kube/watch.hpp>
#include <gpuorch/model/workload.hpp>
#include <nlohmann/json.hpp>

#include "exit_codes.hpp"

namespace gpuorch::cli {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

/// Each watch request asks the server to end it after this long; the loop
/// then resumes from the last version seen (a dead connection is noticed).
constexpr int k_watch_timeout_seconds = 60;
constexpr std::chrono::milliseconds k_retry_delay{1000};

std::string object_ref(std::string_view name) {
  return std::string(model::k_workload_singular) + "." + std::string(model::k_group) + "/" + std::string(name);
}

std::string string_at(const json& object, const char* section, const char* field) {
  auto it = object.find(section);
  if (it == object.end() || !it->is_object()) {
    return {};
  }
  auto value = it->find(field);
  return value != it->end() && value->is_string() ? value->get<std::string>() : std::string();
}

/// Transport failures, 5xx and 429 are worth another try; other API answers
/// (403, 404 of the resource type, ...) will not change by waiting.
bool is_transient(const Error& error) {
  if (error.code() == ErrorCode::transport || error.code() == ErrorCode::timeout) {
    return true;
  }
  return error.http_status() == 429 || error.http_status() >= 500;
}

class Waiter {
 public:
  Waiter(Context& ctx, kube::Client& client, const WaitRequest& request)
      : m_ctx(ctx), m_client(client), m_request(request) {
    for (const auto& target : request.targets) {
      State state;
      state.target = target;
      state.finalizers = target.finalizers;
      m_states.push_back(std::move(state));
    }
  }

  int run() {
    if (m_request.targets.empty()) {
      return k_exit_ok;
    }
    const auto start = SteadyClock::now();
    // The watchdog turns the deadline and a signal into a stop request for
    // every watch in flight.
    std::jthread watchdog([this, start](std::stop_token own) {
      while (!own.stop_requested() && !m_stop.stop_requested()) {
        if (m_ctx.cancel.cancelled()) {
          m_stop.request_stop();
          return;
        }
        if (m_request.timeout.count() > 0 && SteadyClock::now() - start >= m_request.timeout) {
          m_timed_out = true;
          m_stop.request_stop();
          return;
        }
        std::unique_lock lock(m_sleep_mutex);
        m_sleep_cv.wait_for(lock, CancelToken::k_poll_interval);
      }
    });
    std::jthread events;
    if (m_request.stream_events) {
      events = std::jthread([this] { follow_events(); });
    }
    follow_workloads();
    m_stop.request_stop();
    m_sleep_cv.notify_all();
    if (events.joinable()) {
      events.join();
    }
    watchdog.request_stop();
    watchdog.join();
    return finish();
  }

 private:
  enum class Outcome { waiting, reached, failed, vanished };
  struct State {
    WaitTarget target;
    std::string phase;
    std::string node;
    std::string message;
    std::vector<std::string> finalizers;
    Outcome outcome = Outcome::waiting;
  };

  std::string single_name_selector(const char* field) const {
    if (m_request.targets.size() == 1) {
      return std::string(field) + "=" + m_request.targets.front().name;
    }
    return {};
  }

  State* find(const json& object) {
    if (!object.contains("metadata") || !object["metadata"].is_object()) {
      return nullptr;
    }
    const std::string name = string_at(object, "metadata", "name");
    const std::string uid = string_at(object, "metadata", "uid");
    for (auto& state : m_states) {
      if (state.target.name == name && (state.target.uid.empty() || state.target.uid == uid)) {
        return &state;
      }
    }
    return nullptr;
  }

  bool all_done() const {
    return std::none_of(m_states.begin(), m_states.end(), [](const State& s) { return s.outcome == Outcome::waiting; });
  }

  void say(const std::string& line) {
    std::lock_guard lock(m_print_mutex);
    m_ctx.io.err << line << '\n' << std::flush;
  }

  void observe(State& state, const json& object) {
    if (state.outcome != Outcome::waiting) {
      return;
    }
    state.finalizers.clear();
    if (auto it = object.find("metadata"); it != object.end() && it->is_object()) {
      if (auto f = it->find("finalizers"); f != it->end() && f->is_array()) {
        for (const auto& item : *f) {
          if (item.is_string()) {
            state.finalizers.push_back(item.get<std::string>());
          }
        }
      }
    }
    const std::string phase = string_at(object, "status", "phase");
    const std::string node = string_at(object, "status", "assignedNode");
    const std::string message = string_at(object, "status", "message");
    if (!phase.empty() && (phase != state.phase || node != state.node || message != state.message)) {
      std::string line = state.target.name + ": phase " + phase;
      if (!node.empty()) {
        line += " on " + node;
      }
      if (!message.empty()) {
        line += ": " + message;
      }
      say(line);
    }
    state.phase = phase;
    state.node = node;
    state.message = message;
    switch (m_request.goal) {
      case WaitGoal::running:
        if (phase == "Running" || phase == "Succeeded") {
          state.outcome = Outcome::reached;
        } else if (phase == "Failed") {
          state.outcome = Outcome::failed;
        }
        break;
      case WaitGoal::succeeded:
        if (phase == "Succeeded") {
          state.outcome = Outcome::reached;
        } else if (phase == "Failed") {
          state.outcome = Outcome::failed;
        }
        break;
      case WaitGoal::deleted:
        break;
    }
  }

  void gone(State& state) {
    if (state.outcome != Outcome::waiting) {
      return;
    }
    state.outcome = m_request.goal == WaitGoal::deleted ? Outcome::reached : Outcome::vanished;
  }

  /// Lists the namespace again (after 410 Gone): the current state of every
  /// target, and the version to watch from.
  Result<std::string> relist() {
    kube::ListOptions options;
    options.field_selector = single_name_selector("metadata.name");
    GPUORCH_ASSIGN_OR_RETURN(auto list, m_client.list_all(kube::resources::gpu_workloads(), m_request.ns, options));
    std::lock_guard lock(m_state_mutex);
    std::set<State*> seen;
    if (auto it = list.find("items"); it != list.end() && it->is_array()) {
      for (const auto& item : *it) {
        if (State* state = find(item)) {
          seen.insert(state);
          observe(*state, item);
        }
      }
    }
    for (auto& state : m_states) {
      if (!seen.contains(&state)) {
        gone(state);
      }
    }
    return string_at(list, "metadata", "resourceVersion");
  }

  /// Sleeps unless stopped; false when stopped.
  bool pause() {
    std::unique_lock lock(m_sleep_mutex);
    return !m_sleep_cv.wait_for(lock, k_retry_delay, [this] { return m_stop.stop_requested(); });
  }

  void follow_workloads() {
    std::string rv = m_request.resource_version;
    bool need_list = rv.empty();
    while (!m_stop.stop_requested()) {
      if (need_list) {
        auto listed = relist();
        if (!listed) {
          if (!handle_error(std::move(listed).error())) {
            return;
          }
          continue;
        }
        rv = *listed;
        need_list = false;
        std::lock_guard lock(m_state_mutex);
        if (all_done()) {
          return;
        }
      }
      kube::WatchOptions options;
      options.resource_version = rv;
      options.field_selector = single_name_selector("metadata.name");
      options.timeout_seconds = k_watch_timeout_seconds;
      auto result = kube::watch(
          m_client, kube::resources::gpu_workloads(), m_request.ns, options,
          [this](const kube::WatchEvent& event) {
            std::lock_guard lock(m_state_mutex);
            if (State* state = find(event.object)) {
              if (event.type == "DELETED") {
                gone(*state);
              } else {
                observe(*state, event.object);
              }
            }
            return !all_done();
          },
          m_stop.get_token());
      {
        std::lock_guard lock(m_state_mutex);
        if (all_done()) {
          return;
        }
      }
      if (m_stop.stop_requested()) {
        return;
      }
      if (result) {
        rv = *result;  // the server ended the stream: resume where it stopped
        continue;
      }
      if (kube::is_gone(result.error())) {
        need_list = true;
        continue;
      }
      if (!handle_error(std::move(result).error())) {
        return;
      }
    }
  }

  /// Transient errors are retried after a pause (true); others end the wait.
  bool handle_error(Error error) {
    if (m_stop.stop_requested()) {
      return false;
    }
    if (is_transient(error)) {
      note_retry(error);
      return pause();
    }
    std::lock_guard lock(m_state_mutex);
    if (!m_error) {
      m_error = std::move(error);
    }
    return false;
  }

  void note_retry(const Error& error) {
    if (m_ctx.global.verbosity > 0) {
      say("watch interrupted, retrying: " + error.message());
    }
  }

  void follow_events() {
    std::string rv = m_request.resource_version;
    std::map<std::string, std::int64_t> printed;  // event uid -> count printed
    std::string selector = "involvedObject.kind=" + std::string(model::k_workload_kind);
    if (const auto name = single_name_selector("involvedObject.name"); !name.empty()) {
      selector += "," + name;
    }
    while (!m_stop.stop_requested()) {
      kube::WatchOptions options;
      options.resource_version = rv;
      options.field_selector = selector;
      options.timeout_seconds = k_watch_timeout_seconds;
      auto result = kube::watch(
          m_client, kube::resources::events(), m_request.ns, options,
          [this, &printed](const kube::WatchEvent& event) {
            if (event.type != "ADDED" && event.type != "MODIFIED") {
              return true;
            }
            print_event(event.object, printed);
            return true;
          },
          m_stop.get_token());
      if (m_stop.stop_requested()) {
        return;
      }
      if (result) {
        rv = *result;
      } else if (kube::is_gone(result.error())) {
        rv.clear();  // start over from the current events; printed ones are skipped
      } else if (!pause()) {
        return;
      }
    }
  }

  void print_event(const json& event, std::map<std::string, std::int64_t>& printed) {
    const json involved = event.value("involvedObject", json::object());
    const std::string name = involved.value("name", std::string());
    const std::string uid = involved.value("uid", std::string());
    {
      std::lock_guard lock(m_state_mutex);
      const bool ours = std::any_of(m_states.begin(), m_states.end(), [&](const State& s) {
        return s.target.name == name && (s.target.uid.empty() || uid.empty() || s.target.uid == uid);
      });
      if (!ours) {
        return;
      }
    }
    const std::string key = string_at(event, "metadata", "uid") + "/" + string_at(event, "metadata", "name");
    const std::int64_t count = event.value("count", std::int64_t{1});
    if (auto it = printed.find(key); it != printed.end() && it->second >= count) {
      return;
    }
    printed[key] = count;
    std::string line = name + ": event " + event.value("type", std::string("Normal")) + " " +
                       event.value("reason", std::string()) + ": " + event.value("message", std::string());
    if (count > 1) {
      line += " (x" + std::to_string(count) + ")";
    }
    say(line);
  }

  int finish() {
    std::lock_guard lock(m_state_mutex);
    if (m_ctx.cancel.cancelled()) {
      return k_exit_interrupted;
    }
    int code = k_exit_ok;
    for (const auto& state : m_states) {
      const std::string ref = object_ref(state.target.name);
      switch (state.outcome) {
        case Outcome::reached:
          break;
        case Outcome::failed:
          say("error: " + ref + " failed" + (state.message.empty() ? "" : ": " + state.message));
          code = std::max<int>(code, k_exit_workload_failed);
          break;
        case Outcome::vanished:
          say("error: " + ref + " was deleted while waiting for it to reach " + std::string(to_string(m_request.goal)));
          code = std::max<int>(code, k_exit_error);
          break;
        case Outcome::waiting:
          if (m_error) {
            break;
          }
          if (m_request.goal == WaitGoal::deleted) {
            std::string line = "error: timed out waiting for the deletion of " + ref;
            if (!state.finalizers.empty()) {
              std::string joined;
              for (const auto& f : state.finalizers) {
                joined += (joined.empty() ? "" : ", ") + f;
              }
              line += " (finalizers: " + joined + "; they are removed by gpuorch reconcile)";
            }
            say(line);
          } else {
            say("error: timed out waiting for " + ref + " to reach " + std::string(to_string(m_request.goal)) +
                " (phase " + (state.phase.empty() ? std::string("not set yet") : state.phase) + ")");
          }
          code = std::max<int>(code, k_exit_timeout);
          break;
      }
    }
    if (m_error) {
      std::lock_guard print(m_print_mutex);
      print_error(m_ctx.io.err, *m_error);
      return k_exit_error;
    }
    return code;
  }

  Context& m_ctx;
  kube::Client& m_client;
  const WaitRequest& m_request;
  std::stop_source m_stop;
  std::atomic<bool> m_timed_out{false};
  std::mutex m_sleep_mutex;
  std::condition_variable m_sleep_cv;
  std::mutex m_state_mutex;
  std::mutex m_print_mutex;
  std::vector<State> m_states;
  std::optional<Error> m_error;
};

}  // namespace

std::string_view to_string(WaitGoal goal) {
  switch (goal) {
    case WaitGoal::running:
      return "Running";
    case WaitGoal::succeeded:
      return "Succeeded";
    case WaitGoal::deleted:
      return "deletion";
  }
  return "Succeeded";
}

int wait_for_workloads(Context& ctx, kube::Client& client, const WaitRequest& request) {
  Waiter waiter(ctx, client, request);
  return waiter.run();
}

}  // namespace gpuorch::cli

namespace gpuorch::cli {

void WaitPlan::add(const std::string& ns, WaitTarget target, const std::string& resource_version) {
  auto& request = m_by_namespace[ns];
  request.ns = ns;
  request.targets.push_back(std::move(target));
  if (request.resource_version.empty()) {
    request.resource_version = resource_version;
  }
}

int WaitPlan::wait(Context& ctx, kube::Client& client, WaitGoal goal, std::chrono::milliseconds timeout,
                   bool stream_events) {
  int code = 0;
  for (auto& [ns, request] : m_by_namespace) {
    request.goal = goal;
    request.timeout = timeout;
    request.stream_events = stream_events;
    const int waited = wait_for_workloads(ctx, client, request);
    if (waited == k_exit_interrupted) {
      return waited;
    }
    code = std::max(code, waited);
  }
  return code;
}

}  // namespace gpuorch::cli
