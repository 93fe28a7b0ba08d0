#include <gpuorch/kube/leader_election.hpp>

#include <random>

#include <spdlog/spdlog.h>

namespace gpuorch::kube {

namespace {

/// Errors that retrying cannot fix (as LeaseLock::acquire judges them), and
/// a missing namespace (creating the Lease answers 404 only then): waiting
/// silently for someone to create it helps nobody.
bool is_permanent(const Error& e) {
  return e.code() == ErrorCode::auth || e.code() == ErrorCode::invalid || e.code() == ErrorCode::usage ||
         e.code() == ErrorCode::config || e.code() == ErrorCode::not_found;
}

/// client-go jitters the campaign's retry period by up to 120 %; gpuorch by
/// up to 20 %, so a standby notices an expired lease at most 1.2 retry
/// periods late while candidates still spread their requests.
constexpr double k_retry_jitter = 0.2;

}  // namespace

LeaderElector::LeaderElector(std::shared_ptr<LeaseLock> lock, LeaderCallbacks callbacks, std::shared_ptr<Random> random)
    : m_lock(std::move(lock)), m_callbacks(std::move(callbacks)), m_random(std::move(random)) {
  if (!m_random) {
    m_random = std::make_shared<SeededRandom>(std::random_device{}());
  }
}

std::string LeaderElector::leader() const {
  std::lock_guard lock(m_mutex);
  return m_leader;
}

std::string LeaderElector::last_error() const {
  std::lock_guard lock(m_mutex);
  return m_last_error;
}

void LeaderElector::observe_holder() {
  const auto record = m_lock->observed_record();
  if (!record) {
    return;
  }
  const std::string holder = record->holder_identity;
  {
    std::lock_guard lock(m_mutex);
    if (m_seen_any && holder == m_leader) {
      return;
    }
    m_seen_any = true;
    m_leader = holder;
  }
  const auto& config = m_lock->config();
  if (holder.empty()) {
    spdlog::info("leader election: lease {}/{} is free", config.lease_namespace, config.name);
  } else if (holder != config.identity) {
    spdlog::info("leader election: {} leads (lease {}/{}); {} stands by", holder, config.lease_namespace, config.name,
                 config.identity);
  }
  if (m_callbacks.on_new_leader) {
    m_callbacks.on_new_leader(holder);
  }
}

Status LeaderElector::run(std::stop_token stop, const std::function<void(std::stop_token)>& lead) {
  const auto& config = m_lock->config();
  Clock& clock = m_lock->clock();
  const std::string lease = config.lease_namespace + "/" + config.name;

  // Campaign until this candidate holds the lease.
  spdlog::info("leader election: {} campaigning for lease {}", config.identity, lease);
  while (true) {
    if (stop.stop_requested()) {
      return {};
    }
    auto attempt = m_lock->try_acquire_or_renew();
    {
      std::lock_guard lock(m_mutex);
      m_last_error = attempt.ok() ? std::string() : attempt.error().message();
    }
    observe_holder();
    if (attempt.ok() && *attempt) {
      break;
    }
    if (!attempt.ok()) {
      if (is_permanent(attempt.error())) {
        return std::move(attempt).error().wrap("leader election on lease " + lease);
      }
      spdlog::warn("leader election on lease {}: {}", lease, attempt.error().message());
    }
    const auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(
        config.retry_period * (1.0 + k_retry_jitter * m_random->uniform()));
    if (!clock.sleep_for(wait, stop)) {
      return {};
    }
  }

  // Lead while a background thread renews.
  {
    std::lock_guard lock(m_mutex);
    m_leader = config.identity;
    m_seen_any = true;
  }
  m_leading = true;
  spdlog::info("leader election: {} acquired lease {}, leading", config.identity, lease);
  if (m_callbacks.on_started_leading) {
    m_callbacks.on_started_leading();
  }
  std::mutex lost_mutex;
  std::string lost_why;
  Status released;
  bool lost = false;
  {
    LeaseRenewer renewer(m_lock, [&](const std::string& why) {
      std::lock_guard lock(lost_mutex);
      lost_why = why;
    });
    std::stop_source leading;
    {
      std::stop_callback on_stop(stop, [&leading] { leading.request_stop(); });
      std::stop_callback on_lost(renewer.lost_token(), [&leading] { leading.request_stop(); });
      lead(leading.get_token());
    }
    // `lead` has returned: nothing this process does as leader is still
    // running, so the lease may go to a standby now.
    released = renewer.stop_and_release();
    lost = renewer.lost();
  }
  m_leading = false;
  std::string why;
  if (lost) {
    std::lock_guard lock(lost_mutex);
    why = lost_why;
  } else if (released.ok()) {
    why = "released lease " + lease;
  } else {
    why = "stopped leading; releasing lease " + lease +
          " failed (a standby waits out the lease): " + released.error().message();
  }
  if (lost) {
    spdlog::error("leader election: {} lost the lease: {}", config.identity, why);
  } else if (released.ok()) {
    spdlog::info("leader election: {} {}", config.identity, why);
  } else {
    spdlog::warn("leader election: {} {}", config.identity, why);
  }
  if (m_callbacks.on_stopped_leading) {
    m_callbacks.on_stopped_leading(why);
  }
  if (lost) {
    return Error(ErrorCode::conflict, "leader election lost: " + why);
  }
  return {};
}

}  // namespace gpuorch::kube
