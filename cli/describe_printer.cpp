#include "describe_printer.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <ostream>

#include <fmt/format.h>

#include <gpuorch/model/time.hpp>

#include "workload_table.hpp"

namespace gpuorch::cli {
namespace {

using nlohmann::json;
using Clock = std::chrono::system_clock;

/// Lines of tab-separated cells aligned like kubectl's describe output (Go's
/// tabwriter with padding 2): consecutive lines with at least two cells form a
/// block whose columns line up; a line with one cell ends the block. The last
/// cell of a line is never padded.
class DescribeWriter {
 public:
  explicit DescribeWriter(std::ostream& out) : m_out(out) {}
  DescribeWriter(const DescribeWriter&) = delete;
  DescribeWriter& operator=(const DescribeWriter&) = delete;
  ~DescribeWriter() { flush(); }

  void line(int level, std::vector<std::string> cells) {
    cells.front().insert(0, static_cast<std::size_t>(level) * 2, ' ');
    if (cells.size() == 1) {
      flush();
      write(cells.front());
      return;
    }
    m_block.push_back(std::move(cells));
  }

  void flush() {
    std::vector<std::size_t> widths;
    for (const auto& row : m_block) {
      widths.resize(std::max(widths.size(), row.size()), 0);
      for (std::size_t c = 0; c + 1 < row.size(); ++c) {
        widths[c] = std::max(widths[c], row[c].size());
      }
    }
    for (const auto& row : m_block) {
      std::string text;
      for (std::size_t c = 0; c < row.size(); ++c) {
        text += row[c];
        if (c + 1 < row.size()) {
          text.append(widths[c] - row[c].size() + 2, ' ');
        }
      }
      write(text);
    }
    m_block.clear();
  }

 private:
  void write(std::string text) {
    while (!text.empty() && text.back() == ' ') {
      text.pop_back();
    }
    m_out << text << '\n';
  }

  std::ostream& m_out;
  std::vector<std::vector<std::string>> m_block;
};

const json& at(const json& object, std::initializer_list<const char*> path) {
  static const json k_null;
  const json* node = &object;
  for (const char* key : path) {
    if (!node->is_object()) {
      return k_null;
    }
    auto it = node->find(key);
    if (it == node->end()) {
      return k_null;
    }
    node = &*it;
  }
  return *node;
}

/// A scalar as text: strings as they are, numbers and booleans as JSON writes them.
std::string text(const json& value) {
  if (value.is_string()) {
    return value.get<std::string>();
  }
  if (value.is_null()) {
    return {};
  }
  if (value.is_number() || value.is_boolean()) {
    return value.dump();
  }
  return value.dump();
}

std::string text_at(const json& object, std::initializer_list<const char*> path) {
  return text(at(object, path));
}

std::optional<Clock::time_point> time_at(const json& object, std::initializer_list<const char*> path) {
  const auto& value = at(object, path);
  if (!value.is_string() || value.get<std::string>().empty()) {
    return std::nullopt;
  }
  auto parsed = model::parse_time(value.get<std::string>());
  if (!parsed) {
    return std::nullopt;
  }
  return *parsed;
}

/// kubectl's describe timestamps (RFC 1123 with a numeric zone): "Sun, 29 Nov 2026 07:00:00 +0000".
std::string describe_time(Clock::time_point time) {
  const std::time_t t = Clock::to_time_t(time);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buffer[64];
  const auto n = std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return std::string(buffer, n);
}

std::string time_text(const json& object, std::initializer_list<const char*> path) {
  const auto time = time_at(object, path);
  return time ? describe_time(*time) : "<unset>";
}

std::string age(std::optional<Clock::time_point> time, Clock::time_point now) {
  if (!time) {
    return "<unknown>";
  }
  return human_age(std::chrono::duration_cast<std::chrono::seconds>(now - *time));
}

/// "a=b" lines of a string map, "<none>" when empty (labels, annotations, nodeSelector).
std::vector<std::string> map_lines(const json& map) {
  std::vector<std::string> lines;
  if (map.is_object()) {
    for (const auto& [key, value] : map.items()) {
      lines.push_back(fmt::format("{}={}", key, text(value)));
    }
  }
  std::sort(lines.begin(), lines.end());
  if (lines.empty()) {
    lines.emplace_back("<none>");
  }
  return lines;
}

/// A field with one value per line: the label on the first, the rest under it.
void multi(DescribeWriter& w, int level, const std::string& label, const std::vector<std::string>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    w.line(level, {i == 0 ? label : std::string(), values[i]});
  }
}

/// A command line as a shell would take it back: words with blanks or quotes in single quotes.
std::string shell_words(const json& words) {
  std::string out;
  if (!words.is_array()) {
    return out;
  }
  for (const auto& word : words) {
    std::string w = text(word);
    if (w.empty() || w.find_first_of(" \t\n'\"\\$`") != std::string::npos) {
      std::string quoted = "'";
      for (const char c : w) {
        quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
      }
      w = quoted + "'";
    }
    out += out.empty() ? w : " " + w;
  }
  return out;
}

std::vector<std::string> toleration_lines(const json& tolerations) {
  std::vector<std::string> lines;
  if (tolerations.is_array()) {
    // kubectl's form: key=value:Effect op=Exists for 300s
    for (const auto& t : tolerations) {
      std::string line = text_at(t, {"key"});
      const auto op = text_at(t, {"operator"});
      if (const auto value = text_at(t, {"value"}); !value.empty()) {
        line += "=" + value;
      }
      if (const auto effect = text_at(t, {"effect"}); !effect.empty()) {
        line += ":" + effect;
      }
      if (op == "Exists") {
        line += line.empty() ? "op=Exists" : " op=Exists";
      }
      if (const auto& seconds = at(t, {"tolerationSeconds"}); seconds.is_number()) {
        line += fmt::format(" for {}s", seconds.dump());
      }
      lines.push_back(line);
    }
  }
  if (lines.empty()) {
    lines.emplace_back("<none>");
  }
  return lines;
}

void print_spec(DescribeWriter& w, const json& spec) {
  w.line(0, {"Spec:"});
  const auto or_none = [](std::string s) { return s.empty() ? std::string("<none>") : s; };
  w.line(1, {"Model Name:", or_none(text_at(spec, {"modelName"}))});
  w.line(1, {"GPU Count:", or_none(text_at(spec, {"gpuCount"}))});
  w.line(1, {"GPU Type:", text_at(spec, {"gpuType"}).empty() ? "<any>" : text_at(spec, {"gpuType"})});
  w.line(1, {"Priority:", text_at(spec, {"priority"}).empty() ? "0" : text_at(spec, {"priority"})});
  w.line(1, {"Scheduling Strategy:",
             text_at(spec, {"schedulingStrategy"}).empty() ? "LeastLoaded" : text_at(spec, {"schedulingStrategy"})});
  w.line(1,
         {"Image:", text_at(spec, {"image"}).empty() ? "<the reconciler's default image>" : text_at(spec, {"image"})});
  w.line(1, {"Command:", or_none(shell_words(at(spec, {"command"})))});
  w.line(1, {"Args:", or_none(shell_words(at(spec, {"args"})))});
  std::vector<std::string> env;
  if (const auto& list = at(spec, {"env"}); list.is_array()) {
    for (const auto& e : list) {
      env.push_back(fmt::format("{}={}", text_at(e, {"name"}), text_at(e, {"value"})));
    }
  }
  if (env.empty()) {
    env.emplace_back("<none>");
  }
  multi(w, 1, "Environment:", env);
  std::vector<std::string> requests;
  for (const char* r : {"cpu", "memory"}) {
    if (const auto value = text_at(spec, {"resources", r}); !value.empty()) {
      requests.push_back(fmt::format("{}: {}", r, value));
    }
  }
  if (requests.empty()) {
    requests.emplace_back("<none>");
  }
  multi(w, 1, "Requests:", requests);
  multi(w, 1, "Node Selector:", map_lines(at(spec, {"nodeSelector"})));
  multi(w, 1, "Tolerations:", toleration_lines(at(spec, {"tolerations"})));
  const auto& retry = at(spec, {"retryPolicy"});
  const auto retry_value = [&](const char* key, int fallback) {
    const auto& v = at(retry, {key});
    return v.is_number_integer() ? v.get<long long>() : static_cast<long long>(fallback);
  };
  w.line(1, {"Retry Policy:", fmt::format("{} retries, backoff {}s doubling up to {}s", retry_value("maxRetries", 3),
                                          retry_value("backoffSeconds", 10), retry_value("maxBackoffSeconds", 300))});
}

void print_status(DescribeWriter& w, const json& workload) {
  const auto& status = at(workload, {"status"});
  w.line(0, {"Status:"});
  const auto phase = text_at(status, {"phase"});
  w.line(1, {"Phase:", phase.empty() ? "<none> (not seen by a reconciler yet)" : phase});
  if (const auto message = text_at(status, {"message"}); !message.empty()) {
    w.line(1, {"Message:", message});
  }
  const auto or_none = [](std::string s) { return s.empty() ? std::string("<none>") : s; };
  w.line(1, {"Assigned Node:", or_none(text_at(status, {"assignedNode"}))});
  w.line(1, {"Job Name:", or_none(text_at(status, {"jobName"}))});
  w.line(1, {"Last Schedule Time:",
             time_at(status, {"lastScheduleTime"}) ? time_text(status, {"lastScheduleTime"}) : std::string("<none>")});
  const auto retries = text_at(status, {"retryCount"});
  const auto max_retries = text_at(workload, {"spec", "retryPolicy", "maxRetries"});
  w.line(1, {"Retries:",
             fmt::format("{} of {}", retries.empty() ? "0" : retries, max_retries.empty() ? "3" : max_retries)});
  w.line(1, {"Next Retry Time:",
             time_at(status, {"nextRetryTime"}) ? time_text(status, {"nextRetryTime"}) : std::string("<none>")});
  const auto observed = text_at(status, {"observedGeneration"});
  const auto generation = text_at(workload, {"metadata", "generation"});
  if (!observed.empty() || !generation.empty()) {
    w.line(1, {"Observed Generation:", fmt::format("{} (generation {})", observed.empty() ? "0" : observed,
                                                   generation.empty() ? "<unknown>" : generation)});
  }
}

void print_conditions(DescribeWriter& w, const json& workload, Clock::time_point now) {
  const auto& conditions = at(workload, {"status", "conditions"});
  if (!conditions.is_array() || conditions.empty()) {
    w.line(0, {"Conditions:", "<none>"});
    return;
  }
  w.line(0, {"Conditions:"});
  w.line(1, {"Type", "Status", "Reason", "Age", "Message"});
  w.line(1, {"----", "------", "------", "---", "-------"});
  for (const auto& c : conditions) {
    w.line(1, {text_at(c, {"type"}), text_at(c, {"status"}), text_at(c, {"reason"}),
               age(time_at(c, {"lastTransitionTime"}), now), text_at(c, {"message"})});
  }
}

/// A Job's state in one word, from its conditions and counts.
std::string job_state(const json& job) {
  if (at(job, {"metadata", "deletionTimestamp"}).is_string()) {
    return "Terminating";
  }
  if (const auto& conditions = at(job, {"status", "conditions"}); conditions.is_array()) {
    for (const auto& c : conditions) {
      if (text_at(c, {"status"}) != "True") {
        continue;
      }
      if (text_at(c, {"type"}) == "Complete") {
        return "Complete";
      }
      if (text_at(c, {"type"}) == "Failed") {
        const auto reason = text_at(c, {"reason"});
        return reason.empty() ? "Failed" : "Failed (" + reason + ")";
      }
    }
  }
  if (const auto& suspended = at(job, {"spec", "suspend"}); suspended.is_boolean() && suspended.get<bool>()) {
    return "Suspended";
  }
  const auto& active = at(job, {"status", "active"});
  return active.is_number_integer() && active.get<long long>() > 0 ? "Running" : "Pending";
}

std::string count_at(const json& object, std::initializer_list<const char*> path) {
  const auto value = text_at(object, path);
  return value.empty() ? "0" : value;
}

void print_jobs(DescribeWriter& w, const std::vector<json>& jobs, Clock::time_point now) {
  if (jobs.empty()) {
    w.line(0, {"Jobs:", "<none>"});
    return;
  }
  w.line(0, {"Jobs:"});
  w.line(1, {"Name", "State", "Active", "Succeeded", "Failed", "Age"});
  w.line(1, {"----", "-----", "------", "---------", "------", "---"});
  for (const auto& job : jobs) {
    w.line(1, {text_at(job, {"metadata", "name"}), job_state(job), count_at(job, {"status", "active"}),
               count_at(job, {"status", "succeeded"}), count_at(job, {"status", "failed"}),
               age(time_at(job, {"metadata", "creationTimestamp"}), now)});
  }
}

std::string pod_job(const json& pod) {
  if (const auto& refs = at(pod, {"metadata", "ownerReferences"}); refs.is_array()) {
    for (const auto& ref : refs) {
      if (text_at(ref, {"kind"}) == "Job") {
        return text_at(ref, {"name"});
      }
    }
  }
  return "<none>";
}

void print_pods(DescribeWriter& w, const std::vector<json>& pods, Clock::time_point now) {
  if (pods.empty()) {
    w.line(0, {"Pods:", "<none>"});
    return;
  }
  w.line(0, {"Pods:"});
  w.line(1, {"Name", "Phase", "Node", "Job", "Age"});
  w.line(1, {"----", "-----", "----", "---", "---"});
  for (const auto& pod : pods) {
    auto phase = text_at(pod, {"status", "phase"});
    if (at(pod, {"metadata", "deletionTimestamp"}).is_string()) {
      phase = "Terminating";
    }
    const auto node = text_at(pod, {"spec", "nodeName"});
    w.line(1, {text_at(pod, {"metadata", "name"}), phase.empty() ? "Pending" : phase, node.empty() ? "<none>" : node,
               pod_job(pod), age(time_at(pod, {"metadata", "creationTimestamp"}), now)});
  }
}

std::string score_text(double score) {
  if (!std::isfinite(score)) {
    return "-";
  }
  auto s = fmt::format("{:.4f}", score);
  while (s.find('.') != std::string::npos && (s.back() == '0' || s.back() == '.')) {
    const bool dot = s.back() == '.';
    s.pop_back();
    if (dot) {
      break;
    }
  }
  return s;
}

std::string node_list(const std::vector<std::string>& nodes) {
  constexpr std::size_t k_shown = 5;
  std::string out;
  for (std::size_t i = 0; i < nodes.size() && i < k_shown; ++i) {
    out += i == 0 ? nodes[i] : ", " + nodes[i];
  }
  if (nodes.size() > k_shown) {
    out += fmt::format(", ... ({} more)", nodes.size() - k_shown);
  }
  return out;
}

void print_placement(DescribeWriter& w, const PlacementView& p) {
  w.line(0, {"Placement:"});
  w.line(1, {"Strategy:", p.strategy});
  if (!p.error.empty()) {
    w.line(1, {"Explanation:", "<unavailable: " + p.error + ">"});
    return;
  }
  w.line(1, {"Evaluated On:", fmt::format("the cluster now ({} node{}), without this workload's own Jobs and pods",
                                          p.total_nodes, p.total_nodes == 1 ? "" : "s")});
  std::string decision;
  if (!p.assigned_node.empty()) {
    std::size_t rank = 0;
    for (std::size_t i = 0; i < p.top.size(); ++i) {
      if (p.top[i].node == p.assigned_node) {
        rank = i + 1;
      }
    }
    // Equal scores are broken by node order: say so rather than "ranked 2".
    const bool tied = rank > 1 && p.top[rank - 1].score == p.top.front().score;
    if (p.choice == p.assigned_node) {
      decision = fmt::format("assigned to {}, still the strategy's first choice", p.assigned_node);
    } else if (tied) {
      decision =
          fmt::format("assigned to {}, which scores as high as the first choice now ({})", p.assigned_node, p.choice);
    } else if (rank > 0) {
      decision = fmt::format("assigned to {}, now ranked {} of {} fitting nodes (first choice now: {})",
                             p.assigned_node, rank, p.feasible, p.choice);
    } else if (!p.choice.empty()) {
      decision = fmt::format("assigned to {}, which is not among the best candidates now (first choice now: {})",
                             p.assigned_node, p.choice);
    } else {
      decision = fmt::format("assigned to {}; it would not fit anywhere now", p.assigned_node);
    }
  } else if (!p.choice.empty()) {
    decision = fmt::format("fits now: the strategy picks {}", p.choice);
  } else {
    decision = "does not fit on any node now";
  }
  w.line(1, {"Decision:", decision});
  w.line(1, {"Nodes:", p.summary});
  if (!p.filtered.empty()) {
    w.line(1, {"Filtered Nodes:"});
    w.line(2, {"Reason", "Count", "Nodes"});
    w.line(2, {"------", "-----", "-----"});
    for (const auto& f : p.filtered) {
      w.line(2, {f.reason, std::to_string(f.nodes.size()), node_list(f.nodes)});
    }
  }
  if (!p.top.empty()) {
    w.line(1, {"Top Candidates:"});
    w.line(2, {"Node", "Score", "Free GPUs", "GPU Model", ""});
    w.line(2, {"----", "-----", "---------", "---------", ""});
    for (const auto& c : p.top) {
      std::string mark;
      if (c.node == p.assigned_node) {
        mark = "<- assigned";
      } else if (c.node == p.choice) {
        mark = "<- first choice";
      }
      w.line(2, {c.node, score_text(c.score), fmt::format("{}/{}", c.free_gpus, c.gpus),
                 c.gpu_model.empty() ? "<unknown>" : c.gpu_model, mark});
    }
  }
}

/// When an event last happened: lastTimestamp, else series.lastObservedTime, else eventTime.
std::optional<Clock::time_point> event_last(const json& e) {
  if (auto t = time_at(e, {"lastTimestamp"})) {
    return t;
  }
  if (auto t = time_at(e, {"series", "lastObservedTime"})) {
    return t;
  }
  return time_at(e, {"eventTime"});
}

std::optional<Clock::time_point> event_first(const json& e) {
  if (auto t = time_at(e, {"firstTimestamp"})) {
    return t;
  }
  return time_at(e, {"eventTime"});
}

}  // namespace

void print_events(std::ostream& out, std::vector<json> events, Clock::time_point now) {
  DescribeWriter w(out);
  if (events.empty()) {
    w.line(0, {"Events:", "<none>"});
    return;
  }
  // Oldest first by when they last happened, as kubectl sorts them.
  std::stable_sort(events.begin(), events.end(), [](const json& a, const json& b) {
    return event_last(a).value_or(Clock::time_point{}) < event_last(b).value_or(Clock::time_point{});
  });
  w.line(0, {"Events:"});
  w.line(1, {"Type", "Reason", "Age", "From", "Message"});
  w.line(1, {"----", "------", "----", "----", "-------"});
  for (const auto& e : events) {
    long long count = 1;
    if (const auto& c = at(e, {"count"}); c.is_number_integer()) {
      count = c.get<long long>();
    }
    if (const auto& c = at(e, {"series", "count"}); c.is_number_integer()) {
      count = std::max(count, c.get<long long>());
    }
    // kubectl: the age of the last occurrence and "(xN over AGE-OF-FIRST)" for repeats.
    const auto first = event_first(e);
    const auto last = event_last(e);
    std::string when = age(count > 1 || !first ? last : first, now);
    if (count > 1) {
      when += fmt::format(" (x{} over {})", count, age(first, now));
    }
    auto from = text_at(e, {"source", "component"});
    if (from.empty()) {
      from = text_at(e, {"reportingComponent"});
    }
    if (from.empty()) {
      from = text_at(e, {"reportingController"});
    }
    auto message = text_at(e, {"message"});
    std::replace(message.begin(), message.end(), '\n', ' ');
    w.line(1, {text_at(e, {"type"}), text_at(e, {"reason"}), when, from, message});
  }
}

void print_describe(std::ostream& out, const DescribeInput& input, Clock::time_point now) {
  const auto& workload = input.workload;
  {
    DescribeWriter w(out);
    w.line(0, {"Name:", text_at(workload, {"metadata", "name"})});
    w.line(0, {"Namespace:", text_at(workload, {"metadata", "namespace"})});
    multi(w, 0, "Labels:", map_lines(at(workload, {"metadata", "labels"})));
    multi(w, 0, "Annotations:", map_lines(at(workload, {"metadata", "annotations"})));
    w.line(0, {"API Version:", text_at(workload, {"apiVersion"})});
    w.line(0, {"Kind:", text_at(workload, {"kind"})});
    w.line(0, {"CreationTimestamp:", time_text(workload, {"metadata", "creationTimestamp"})});
    if (const auto& deleting = at(workload, {"metadata", "deletionTimestamp"}); deleting.is_string()) {
      w.line(0, {"Deletion Requested:", time_text(workload, {"metadata", "deletionTimestamp"})});
    }
    std::vector<std::string> finalizers;
    if (const auto& list = at(workload, {"metadata", "finalizers"}); list.is_array()) {
      for (const auto& f : list) {
        finalizers.push_back(text(f));
      }
    }
    if (finalizers.empty()) {
      finalizers.emplace_back("<none>");
    }
    multi(w, 0, "Finalizers:", finalizers);
    print_spec(w, at(workload, {"spec"}));
    print_status(w, workload);
    print_conditions(w, workload, now);
    print_jobs(w, input.jobs, now);
    print_pods(w, input.pods, now);
    if (input.placement) {
      print_placement(w, *input.placement);
    }
  }
  print_events(out, input.events, now);
}

}  // namespace gpuorch::cli
