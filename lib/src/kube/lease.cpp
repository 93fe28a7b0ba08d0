#include <gpuorch/kube/lease.hpp>

#include <algorithm>
#include <array>

#include <unistd.h>

#include <spdlog/spdlog.h>

#include <gpuorch/model/time.hpp>

namespace gpuorch::kube {

using nlohmann::json;

namespace {

// "10s", or "500ms" for a duration that is not whole seconds.
std::string duration_text(std::chrono::milliseconds d) {
  return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + "s" : std::to_string(d.count()) + "ms";
}

std::optional<std::chrono::system_clock::time_point> time_field(const json& spec, const char* key) {
  const auto it = spec.find(key);
  if (it == spec.end() || !it->is_string()) {
    return std::nullopt;
  }
  auto parsed = model::parse_time(it->get<std::string>());
  if (!parsed.ok()) {
    return std::nullopt;
  }
  return *parsed;
}

int int_field(const json& spec, const char* key) {
  const auto it = spec.find(key);
  return it != spec.end() && it->is_number_integer() ? it->get<int>() : 0;
}

std::string micro_time(std::chrono::system_clock::time_point t) {
  return model::format_time(t, model::TimePrecision::microseconds);
}

/// Errors a retry cannot fix: the caller lacks the rights, or asked for something invalid.
bool is_permanent(const Error& e) {
  return e.code() == ErrorCode::auth || e.code() == ErrorCode::invalid || e.code() == ErrorCode::usage ||
         e.code() == ErrorCode::config;
}

}  // namespace

LeaderElectionRecord record_from_lease(const json& lease) {
  LeaderElectionRecord record;
  const auto spec_it = lease.find("spec");
  if (spec_it == lease.end() || !spec_it->is_object()) {
    return record;
  }
  const json& spec = *spec_it;
  if (const auto it = spec.find("holderIdentity"); it != spec.end() && it->is_string()) {
    record.holder_identity = it->get<std::string>();
  }
  record.lease_duration_seconds = int_field(spec, "leaseDurationSeconds");
  record.acquire_time = time_field(spec, "acquireTime");
  record.renew_time = time_field(spec, "renewTime");
  record.lease_transitions = int_field(spec, "leaseTransitions");
  return record;
}

void record_to_lease(const LeaderElectionRecord& record, json& lease) {
  json& spec = lease["spec"];
  if (!spec.is_object()) {
    spec = json::object();
  }
  spec["holderIdentity"] = record.holder_identity;
  spec["leaseDurationSeconds"] = record.lease_duration_seconds;
  if (record.acquire_time) {
    spec["acquireTime"] = micro_time(*record.acquire_time);
  } else {
    spec.erase("acquireTime");
  }
  if (record.renew_time) {
    spec["renewTime"] = micro_time(*record.renew_time);
  } else {
    spec.erase("renewTime");
  }
  spec["leaseTransitions"] = record.lease_transitions;
}

std::string default_lease_identity(const Environment& env, Random& random) {
  if (auto pod = env.get("POD_NAME"); pod && !pod->empty()) {
    return *pod;
  }
  std::array<char, 256> host{};
  std::string name = "gpuorch";
  if (::gethostname(host.data(), host.size() - 1) == 0 && host[0] != '\0') {
    name = host.data();
  }
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string suffix;
  for (int i = 0; i < 8; ++i) {
    const auto digit = std::min(15, static_cast<int>(random.uniform() * 16));
    suffix += k_hex[digit];
  }
  return name + "_" + suffix;
}

bool lease_still_held(const LeaderElectionRecord& record, std::chrono::steady_clock::time_point observed_at,
                      std::chrono::steady_clock::time_point now, std::chrono::system_clock::time_point wall_now,
                      bool trust_record_times) {
  if (record.holder_identity.empty()) {
    return false;
  }
  const auto duration = std::chrono::seconds(record.lease_duration_seconds);
  if (observed_at + duration <= now) {
    return false;
  }
  if (trust_record_times) {
    // The holder's own last renewal (or acquisition), by its clock.
    const auto last = record.renew_time ? record.renew_time : record.acquire_time;
    if (!last || *last + duration <= wall_now) {
      return false;
    }
  }
  return true;
}

Result<std::shared_ptr<LeaseLock>> LeaseLock::create(std::shared_ptr<Client> client, LeaseLockConfig config,
                                                     std::shared_ptr<Clock> clock) {
  if (!client) {
    return Error(ErrorCode::internal, "lease lock without a client");
  }
  if (config.name.empty() || config.lease_namespace.empty()) {
    return Error(ErrorCode::usage, "the lease needs a name and a namespace");
  }
  if (config.identity.empty()) {
    return Error(ErrorCode::usage, "the lease candidate needs a non-empty identity");
  }
  // client-go's checks: the holder must be able to renew before the lease runs out.
  if (config.retry_period.count() <= 0 || config.renew_deadline <= config.retry_period * 6 / 5 ||
      config.lease_duration <= config.renew_deadline) {
    return Error(ErrorCode::usage,
                 "lease timing must satisfy leaseDuration > renewDeadline > 1.2 * retryPeriod > 0 (got " +
                     std::to_string(config.lease_duration.count()) + "s, " + duration_text(config.renew_deadline) +
                     ", " + duration_text(config.retry_period) + ")");
  }
  return std::shared_ptr<LeaseLock>(new LeaseLock(std::move(client), std::move(config), std::move(clock)));
}

LeaseLock::LeaseLock(std::shared_ptr<Client> client, LeaseLockConfig config, std::shared_ptr<Clock> clock)
    : m_client(std::move(client)), m_config(std::move(config)), m_clock_owner(std::move(clock)) {
  m_clock = m_clock_owner ? m_clock_owner.get() : &m_client->clock();
}

void LeaseLock::observe_locked(const LeaderElectionRecord& record, std::chrono::steady_clock::time_point now) {
  if (!m_observed || *m_observed != record) {
    m_observed = record;
    m_observed_at = now;
  }
}

Result<bool> LeaseLock::try_acquire_or_renew() {
  std::lock_guard lock(m_mutex);
  const auto wall_now = m_clock->now();
  const auto now = m_clock->monotonic();
  const auto gvr = resources::leases();

  LeaderElectionRecord mine;
  mine.holder_identity = m_config.identity;
  mine.lease_duration_seconds = static_cast<int>(m_config.lease_duration.count());
  mine.acquire_time = wall_now;
  mine.renew_time = wall_now;

  auto current = m_client->get(gvr, m_config.lease_namespace, m_config.name);
  if (!current.ok()) {
    if (current.error().code() != ErrorCode::not_found) {
      m_leader = false;
      return std::move(current).error().wrap("reading lease " + m_config.lease_namespace + "/" + m_config.name);
    }
    json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", m_config.name}, {"namespace", m_config.lease_namespace}}}};
    record_to_lease(mine, lease);
    auto created = m_client->create(gvr, m_config.lease_namespace, lease);
    if (!created.ok()) {
      m_leader = false;
      if (created.error().code() == ErrorCode::conflict) {
        return false;  // another candidate created it first
      }
      return std::move(created).error().wrap("creating lease " + m_config.lease_namespace + "/" + m_config.name);
    }
    observe_locked(mine, now);
    m_leader = true;
    return true;
  }

  const LeaderElectionRecord old = record_from_lease(*current);
  observe_locked(old, now);
  const bool ours = old.holder_identity == m_config.identity;
  if (!ours && lease_still_held(old, m_observed_at, now, wall_now, m_config.trust_record_times)) {
    m_leader = false;
    return false;
  }
  if (ours) {
    // A renewal (also of our own record written before a restart, as client-go does).
    mine.acquire_time = old.acquire_time;
    mine.lease_transitions = old.lease_transitions;
  } else {
    // Taking over from another holder, or an expired or released lease: a new term.
    mine.lease_transitions = old.lease_transitions + 1;
  }
  json updated = std::move(*current);
  record_to_lease(mine, updated);
  auto written = m_client->update(gvr, m_config.lease_namespace, updated);
  if (!written.ok()) {
    m_leader = false;
    if (written.error().code() == ErrorCode::conflict) {
      return false;  // someone wrote in between: they won this round
    }
    return std::move(written).error().wrap("updating lease " + m_config.lease_namespace + "/" + m_config.name);
  }
  observe_locked(mine, now);
  m_leader = true;
  return true;
}

Result<bool> LeaseLock::acquire(std::stop_token stop, std::chrono::milliseconds max_wait) {
  const auto deadline = m_clock->monotonic() + max_wait;
  while (true) {
    auto attempt = try_acquire_or_renew();
    if (attempt.ok() && *attempt) {
      return true;
    }
    if (!attempt.ok()) {
      if (is_permanent(attempt.error())) {
        return std::move(attempt).error();
      }
      spdlog::debug("lease {}/{}: {}", m_config.lease_namespace, m_config.name, attempt.error().message());
    }
    const auto now = m_clock->monotonic();
    if (now >= deadline || stop.stop_requested()) {
      if (!attempt.ok()) {
        return std::move(attempt).error();
      }
      return false;
    }
    const auto wait = std::min<std::chrono::nanoseconds>(m_config.retry_period, deadline - now);
    if (!m_clock->sleep_for(wait, stop)) {
      return false;
    }
  }
}

Status LeaseLock::release() {
  std::lock_guard lock(m_mutex);
  if (!m_leader) {
    return {};
  }
  m_leader = false;
  const auto gvr = resources::leases();
  // Two attempts: a conflict may come from our own renewal thread's last write.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto current = m_client->get(gvr, m_config.lease_namespace, m_config.name);
    if (!current.ok()) {
      if (current.error().code() == ErrorCode::not_found) {
        return {};
      }
      return std::move(current).error().wrap("releasing lease " + m_config.lease_namespace + "/" + m_config.name);
    }
    const LeaderElectionRecord old = record_from_lease(*current);
    if (old.holder_identity != m_config.identity) {
      return {};  // someone else holds it now; not ours to clear
    }
    const auto wall_now = m_clock->now();
    LeaderElectionRecord cleared;
    cleared.lease_duration_seconds = 1;
    cleared.acquire_time = wall_now;
    cleared.renew_time = wall_now;
    cleared.lease_transitions = old.lease_transitions;
    json updated = std::move(*current);
    record_to_lease(cleared, updated);
    auto written = m_client->update(gvr, m_config.lease_namespace, updated);
    if (written.ok()) {
      observe_locked(cleared, m_clock->monotonic());
      return {};
    }
    if (written.error().code() != ErrorCode::conflict) {
      return std::move(written).error().wrap("releasing lease " + m_config.lease_namespace + "/" + m_config.name);
    }
  }
  return Error(ErrorCode::conflict,
               "releasing lease " + m_config.lease_namespace + "/" + m_config.name + ": it kept changing");
}

bool LeaseLock::is_leader() const {
  std::lock_guard lock(m_mutex);
  return m_leader;
}

std::string LeaseLock::observed_holder() const {
  std::lock_guard lock(m_mutex);
  return m_observed ? m_observed->holder_identity : std::string();
}

std::optional<LeaderElectionRecord> LeaseLock::observed_record() const {
  std::lock_guard lock(m_mutex);
  return m_observed;
}

LeaseRenewer::LeaseRenewer(std::shared_ptr<LeaseLock> lock, std::function<void(const std::string&)> on_lost)
    : m_lock(std::move(lock)), m_on_lost(std::move(on_lost)) {
  m_thread = std::jthread([this](const std::stop_token& stop) { run(stop); });
}

LeaseRenewer::~LeaseRenewer() {
  const auto status = stop_and_release();
  if (!status.ok()) {
    spdlog::warn("{}", status.error().message());
  }
}

Status LeaseRenewer::stop_and_release() {
  if (m_thread.joinable()) {
    m_thread.request_stop();
    m_thread.join();
  }
  if (m_released || m_lost.stop_requested()) {
    return {};
  }
  m_released = true;
  return m_lock->release();
}

void LeaseRenewer::run(const std::stop_token& stop) {
  Clock& clock = m_lock->clock();
  const auto& config = m_lock->config();
  auto last_renewed = clock.monotonic();
  std::string why;
  while (clock.sleep_for(config.retry_period, stop)) {
    auto renewed = m_lock->try_acquire_or_renew();
    const auto now = clock.monotonic();
    if (renewed.ok() && *renewed) {
      last_renewed = now;
      continue;
    }
    std::string failure;
    if (renewed.ok()) {
      const auto holder = m_lock->observed_holder();
      if (holder != config.identity) {
        why = "lease " + config.lease_namespace + "/" + config.name + " was taken over by " +
              (holder.empty() ? std::string("nobody (released)") : holder);
        break;
      }
      failure = "a concurrent write to the lease";  // still ours: try again
    } else {
      failure = renewed.error().message();
    }
    spdlog::warn("renewing lease {}/{}: {}", config.lease_namespace, config.name, failure);
    if (now - last_renewed >= config.renew_deadline) {
      why = "lease " + config.lease_namespace + "/" + config.name + " not renewed within " +
            duration_text(config.renew_deadline) + ": " + failure;
      break;
    }
  }
  if (!why.empty()) {
    m_lost.request_stop();
    if (m_on_lost) {
      m_on_lost(why);
    }
  }
}

}  // namespace gpuorch::kube
