#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gpuorch::obs {

/// Content-Type of the Prometheus text exposition format 0.0.4 (for /metrics
/// handlers and Pushgateway requests).
inline constexpr const char* k_text_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// A monotonically increasing value. Thread-safe and lock-free.
class Counter {
 public:
  /// Adds `amount`; negative or NaN amounts are ignored (a counter never goes down).
  void inc(double amount = 1.0);
  [[nodiscard]] double value() const { return m_value.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> m_value{0.0};
};

/// A value that goes up and down. Thread-safe and lock-free.
class Gauge {
 public:
  void set(double value) { m_value.store(value, std::memory_order_relaxed); }
  void inc(double amount = 1.0);
  void dec(double amount = 1.0) { inc(-amount); }
  [[nodiscard]] double value() const { return m_value.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> m_value{0.0};
};

/// Observations counted into cumulative buckets, with their sum and count.
/// Thread-safe; a snapshot is always consistent (count == the +Inf bucket).
class Histogram {
 public:
  /// `upper_bounds` must be sorted ascending and finite; +Inf is implicit.
  explicit Histogram(std::vector<double> upper_bounds);

  void observe(double value);

  struct Snapshot {
    std::vector<double> upper_bounds;       ///< without +Inf
    std::vector<std::uint64_t> cumulative;  ///< one per bound, then one for +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  [[nodiscard]] Snapshot snapshot() const;

 private:
  std::vector<double> m_bounds;
  mutable std::mutex m_mutex;
  std::vector<std::uint64_t> m_counts;  ///< per bucket (not cumulative), last is +Inf
  double m_sum = 0;
  std::uint64_t m_count = 0;
};

/// The default buckets of a reconcile pass (seconds): from 10 ms to 10 minutes.
[[nodiscard]] std::vector<double> duration_buckets();

enum class MetricType { counter, gauge, histogram };
[[nodiscard]] std::string_view to_string(MetricType type);

/// One metric family: a name, help text, label names and one child per
/// combination of label values. Children live as long as the family (or until
/// removed), so callers may keep references to them on hot paths.
template <typename Metric>
class Family {
 public:
  /// The child for these label values (in the order of the label names),
  /// created at zero on first use. A wrong number of values is a programming
  /// error and throws gpuorch::Failure (ErrorCode::internal).
  Metric& with(std::initializer_list<std::string_view> label_values) {
    return with(std::span<const std::string_view>(label_values.begin(), label_values.size()));
  }
  Metric& with(std::span<const std::string_view> label_values);
  Metric& with(const std::vector<std::string>& label_values);
  /// The child without labels (families declared without label names).
  Metric& get() { return with(std::span<const std::string_view>()); }
  /// Drops one child (e.g. a node that left the cluster); false when absent.
  bool remove(const std::vector<std::string>& label_values);
  /// Drops every child (families rebuilt from scratch on each pass).
  void clear();

  [[nodiscard]] const std::string& name() const { return m_name; }
  [[nodiscard]] const std::string& help() const { return m_help; }
  [[nodiscard]] const std::vector<std::string>& label_names() const { return m_label_names; }

  /// Calls `fn(label_values, metric)` for each child in label-value order, under the family's lock.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    std::lock_guard lock(m_mutex);
    for (const auto& [values, metric] : m_children) {
      fn(values, *metric);
    }
  }

 private:
  friend class Registry;
  Family(std::string name, std::string help, std::vector<std::string> label_names, std::vector<double> buckets);
  std::unique_ptr<Metric> make() const;

  std::string m_name;
  std::string m_help;
  std::vector<std::string> m_label_names;
  std::vector<double> m_buckets;  ///< histograms only
  mutable std::mutex m_mutex;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> m_children;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

/// A set of metric families and their Prometheus text exposition (format
/// 0.0.4). Thread-safe: metrics are updated from any thread while another
/// renders the exposition (a textfile write, a Pushgateway push, or an HTTP
/// /metrics handler).
///
/// Registration validates names (`[a-zA-Z_:][a-zA-Z0-9_:]*`, label names
/// `[a-zA-Z_][a-zA-Z0-9_]*` not starting with `__`, no `le` on histograms) and
/// rejects a name registered twice; both are programming errors and throw
/// gpuorch::Failure (ErrorCode::internal).
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  CounterFamily& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  /// `buckets`: ascending finite upper bounds; +Inf is added implicitly.
  HistogramFamily& histogram(std::string name, std::string help, std::vector<double> buckets,
                             std::vector<std::string> label_names = {});

  /// The text exposition: families sorted by name, children by label values,
  /// `# HELP` and `# TYPE` before each family's samples, no timestamps, and a
  /// final newline. Families without children are left out (as client_golang
  /// does); families without labels always have their one child.
  [[nodiscard]] std::string expose() const;

 private:
  struct Entry {
    MetricType type;
    std::unique_ptr<CounterFamily> counter;
    std::unique_ptr<GaugeFamily> gauge;
    std::unique_ptr<HistogramFamily> histogram;
  };
  void check_new(const std::string& name, const std::vector<std::string>& label_names, MetricType type) const;

  mutable std::mutex m_mutex;
  std::map<std::string, Entry, std::less<>> m_families;
};

/// Formats a sample value like Prometheus does: shortest round-trip form,
/// "+Inf", "-Inf", "NaN".
[[nodiscard]] std::string format_value(double value);
/// Escapes a label value (`\` `"` and newline).
[[nodiscard]] std::string escape_label_value(std::string_view value);
/// Escapes HELP text (`\` and newline).
[[nodiscard]] std::string escape_help(std::string_view help);
[[nodiscard]] bool is_valid_metric_name(std::string_view name);
[[nodiscard]] bool is_valid_label_name(std::string_view name);

}  // namespace gpuorch::obs
