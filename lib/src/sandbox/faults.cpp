#include <gpuorch/sandbox/faults.hpp>

#include <algorithm>

namespace gpuorch::sandbox {
namespace {

using nlohmann::json;

Error bad(std::string message) {
  return Error(ErrorCode::usage, std::move(message));
}

}  // namespace

Result<ErrorRule> ErrorRule::parse(std::string_view text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto colon = text.find(':', start);
    parts.emplace_back(text.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
    if (colon == std::string_view::npos) {
      break;
    }
    start = colon + 1;
  }
  if (parts.size() != 4) {
    return bad("fault rule \"" + std::string(text) + "\": expected VERB:RESOURCE:CODE:RATE, e.g. create:pods:500:0.1");
  }
  ErrorRule rule;
  rule.verb = parts[0].empty() ? "*" : parts[0];
  rule.resource = parts[1].empty() ? "*" : parts[1];
  static const std::vector<std::string> verbs = {"*",      "get",   "list",   "watch",           "create",
                                                 "update", "patch", "delete", "deletecollection"};
  if (std::find(verbs.begin(), verbs.end(), rule.verb) == verbs.end()) {
    return bad("fault rule \"" + std::string(text) + "\": unknown verb \"" + rule.verb + "\"");
  }
  try {
    std::size_t used = 0;
    rule.code = std::stoi(parts[2], &used);
    if (used != parts[2].size()) {
      throw std::invalid_argument("code");
    }
    rule.rate = std::stod(parts[3], &used);
    if (used != parts[3].size()) {
      throw std::invalid_argument("rate");
    }
  } catch (const std::exception&) {
    return bad("fault rule \"" + std::string(text) + "\": CODE must be an integer and RATE a number");
  }
  if (rule.code != 409 && rule.code != 429 && rule.code != 500 && rule.code != 503) {
    return bad("fault rule \"" + std::string(text) + "\": CODE must be 409, 429, 500 or 503");
  }
  if (rule.rate < 0 || rule.rate > 1) {
    return bad("fault rule \"" + std::string(text) + "\": RATE must be between 0 and 1");
  }
  return rule;
}

json FaultConfig::to_json() const {
  json errs = json::array();
  for (const ErrorRule& r : errors) {
    errs.push_back({{"verb", r.verb},
                    {"resource", r.resource},
                    {"code", r.code},
                    {"rate", r.rate},
                    {"retryAfterSeconds", r.retry_after_seconds}});
  }
  return {{"seed", seed},
          {"errors", errs},
          {"latencyMilliseconds", latency.count()},
          {"dropRate", drop_rate},
          {"watchCutAfterEvents", watch_cut_after_events},
          {"watchCutAfterMilliseconds", watch_cut_after.count()},
          {"watchGoneRate", watch_gone_rate}};
}

Result<FaultConfig> FaultConfig::from_json(const json& j) {
  if (!j.is_object()) {
    return bad("the fault configuration must be a JSON object");
  }
  FaultConfig c;
  try {
    c.seed = j.value("seed", std::uint64_t{1});
    for (const json& e : j.value("errors", json::array())) {
      ErrorRule r;
      r.verb = e.value("verb", "*");
      r.resource = e.value("resource", "*");
      r.code = e.value("code", 500);
      r.rate = e.value("rate", 0.0);
      r.retry_after_seconds = e.value("retryAfterSeconds", 1);
      GPUORCH_ASSIGN_OR_RETURN(
          ErrorRule checked,
          ErrorRule::parse(r.verb + ":" + r.resource + ":" + std::to_string(r.code) + ":" + std::to_string(r.rate)));
      checked.retry_after_seconds = r.retry_after_seconds;
      c.errors.push_back(checked);
    }
    c.latency = std::chrono::milliseconds(j.value("latencyMilliseconds", 0));
    c.drop_rate = j.value("dropRate", 0.0);
    c.watch_cut_after_events = j.value("watchCutAfterEvents", 0);
    c.watch_cut_after = std::chrono::milliseconds(j.value("watchCutAfterMilliseconds", 0));
    c.watch_gone_rate = j.value("watchGoneRate", 0.0);
  } catch (const json::exception& e) {
    return bad(std::string("the fault configuration has a field of the wrong type: ") + e.what());
  }
  if (c.drop_rate < 0 || c.drop_rate > 1 || c.watch_gone_rate < 0 || c.watch_gone_rate > 1) {
    return bad("dropRate and watchGoneRate must be between 0 and 1");
  }
  return c;
}

FaultInjector::FaultInjector(FaultConfig config) : m_config(std::move(config)), m_rng(m_config.seed) {}

FaultInjector::Decision FaultInjector::decide(std::string_view verb, std::string_view resource) {
  std::lock_guard lock(m_mutex);
  std::string key;
  key.reserve(verb.size() + 1 + resource.size());
  key.append(verb).append(" ").append(resource);
  ++m_requests[key];
  Decision d;
  d.delay = m_config.latency;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  if (m_config.drop_rate > 0 && unit(m_rng) < m_config.drop_rate) {
    d.drop = true;
    ++m_counters["drop"];
    return d;
  }
  for (const ErrorRule& r : m_config.errors) {
    const bool verb_ok = r.verb == "*" || r.verb == verb;
    const bool res_ok = r.resource == "*" || r.resource == resource;
    if (verb_ok && res_ok && r.rate > 0 && unit(m_rng) < r.rate) {
      d.code = r.code;
      d.retry_after_seconds = (r.code == 429 || r.code == 503) ? r.retry_after_seconds : 0;
      ++m_counters[std::to_string(r.code)];
      return d;
    }
  }
  return d;
}

bool FaultInjector::watch_gone() {
  std::lock_guard lock(m_mutex);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  if (m_config.watch_gone_rate > 0 && unit(m_rng) < m_config.watch_gone_rate) {
    ++m_counters["watch-gone"];
    return true;
  }
  return false;
}

void FaultInjector::set(FaultConfig config) {
  std::lock_guard lock(m_mutex);
  if (config.seed != m_config.seed) {
    m_rng.seed(config.seed);
  }
  m_config = std::move(config);
}

FaultConfig FaultInjector::config() const {
  std::lock_guard lock(m_mutex);
  return m_config;
}

std::map<std::string, std::uint64_t> FaultInjector::counters() const {
  std::lock_guard lock(m_mutex);
  return m_counters;
}

std::map<std::string, std::uint64_t> FaultInjector::requests() const {
  std::lock_guard lock(m_mutex);
  return m_requests;
}

void FaultInjector::count(const std::string& kind) {
  std::lock_guard lock(m_mutex);
  ++m_counters[kind];
}

}  // namespace gpuorch::sandbox
