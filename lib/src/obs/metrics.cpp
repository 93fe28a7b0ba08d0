#include <gpuorch/obs/metrics.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include <gpuorch/base/error.hpp>

namespace gpuorch::obs {

namespace {

[[noreturn]] void programming_error(std::string message) {
  throw Failure(Error(ErrorCode::internal, std::move(message)));
}

void add_atomic(std::atomic<double>& target, double amount) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + amount, std::memory_order_relaxed)) {
  }
}

/// `{a="x",b="y"}` for the given names and values plus an optional extra label
/// (histograms' `le`); "" when there are none.
void append_labels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) {
    return;
  }
  out += '{';
  bool first = true;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!first) {
      out += ',';
    }
    first = false;
    out += names[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) {
      out += ',';
    }
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   const std::vector<std::string>& label_names, const std::vector<std::string>& values, double value,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
  out += name;
  out += suffix;
  append_labels(out, label_names, values, extra_name, extra_value);
  out += ' ';
  out += format_value(value);
  out += '\n';
}

template <typename Metric>
void append_header(std::string& out, const Family<Metric>& family, MetricType type) {
  out += "# HELP ";
  out += family.name();
  out += ' ';
  out += escape_help(family.help());
  out += "\n# TYPE ";
  out += family.name();
  out += ' ';
  out += to_string(type);
  out += '\n';
}

template <typename Metric>
bool has_children(const Family<Metric>& family) {
  bool any = false;
  family.for_each([&](const auto&, const auto&) { any = true; });
  return any;
}

void expose_family(std::string& out, const CounterFamily& family) {
  if (!has_children(family)) {
    return;
  }
  append_header(out, family, MetricType::counter);
  family.for_each([&](const std::vector<std::string>& values, const Counter& c) {
    append_sample(out, family.name(), "", family.label_names(), values, c.value());
  });
}

void expose_family(std::string& out, const GaugeFamily& family) {
  if (!has_children(family)) {
    return;
  }
  append_header(out, family, MetricType::gauge);
  family.for_each([&](const std::vector<std::string>& values, const Gauge& g) {
    append_sample(out, family.name(), "", family.label_names(), values, g.value());
  });
}

void expose_family(std::string& out, const HistogramFamily& family) {
  if (!has_children(family)) {
    return;
  }
  append_header(out, family, MetricType::histogram);
  family.for_each([&](const std::vector<std::string>& values, const Histogram& h) {
    const auto snap = h.snapshot();
    for (std::size_t i = 0; i < snap.upper_bounds.size(); ++i) {
      append_sample(out, family.name(), "_bucket", family.label_names(), values,
                    static_cast<double>(snap.cumulative[i]), "le", format_value(snap.upper_bounds[i]));
    }
    append_sample(out, family.name(), "_bucket", family.label_names(), values,
                  static_cast<double>(snap.cumulative.back()), "le", "+Inf");
    append_sample(out, family.name(), "_sum", family.label_names(), values, snap.sum);
    append_sample(out, family.name(), "_count", family.label_names(), values, static_cast<double>(snap.count));
  });
}

void check_buckets(const std::string& name, const std::vector<double>& buckets) {
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (!std::isfinite(buckets[i])) {
      programming_error("histogram " + name + ": bucket bounds must be finite (+Inf is implicit)");
    }
    if (i > 0 && !(buckets[i - 1] < buckets[i])) {
      programming_error("histogram " + name + ": bucket bounds must be strictly ascending");
    }
  }
}

}  // namespace

void Counter::inc(double amount) {
  if (!(amount >= 0)) {
    return;
  }
  add_atomic(m_value, amount);
}

void Gauge::inc(double amount) {
  add_atomic(m_value, amount);
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : m_bounds(std::move(upper_bounds)), m_counts(m_bounds.size() + 1, 0) {}

void Histogram::observe(double value) {
  // The first bucket whose upper bound is >= value (buckets are "less or equal").
  const auto it = std::lower_bound(m_bounds.begin(), m_bounds.end(), value);
  const auto index = static_cast<std::size_t>(it - m_bounds.begin());
  std::lock_guard lock(m_mutex);
  ++m_counts[std::isnan(value) ? m_bounds.size() : index];
  m_sum += value;
  ++m_count;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snap;
  snap.upper_bounds = m_bounds;
  snap.cumulative.reserve(m_counts.size());
  std::lock_guard lock(m_mutex);
  std::uint64_t running = 0;
  for (const auto c : m_counts) {
    running += c;
    snap.cumulative.push_back(running);
  }
  snap.sum = m_sum;
  snap.count = m_count;
  return snap;
}

std::vector<double> duration_buckets() {
  return {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
}

std::string_view to_string(MetricType type) {
  switch (type) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "untyped";
}

template <typename Metric>
Family<Metric>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                       std::vector<double> buckets)
    : m_name(std::move(name)),
      m_help(std::move(help)),
      m_label_names(std::move(label_names)),
      m_buckets(std::move(buckets)) {}

template <typename Metric>
std::unique_ptr<Metric> Family<Metric>::make() const {
  if constexpr (std::is_same_v<Metric, Histogram>) {
    return std::make_unique<Histogram>(m_buckets);
  } else {
    return std::make_unique<Metric>();
  }
}

template <typename Metric>
Metric& Family<Metric>::with(std::span<const std::string_view> label_values) {
  std::vector<std::string> key(label_values.begin(), label_values.end());
  return with(key);
}

template <typename Metric>
Metric& Family<Metric>::with(const std::vector<std::string>& label_values) {
  if (label_values.size() != m_label_names.size()) {
    programming_error(m_name + ": expected " + std::to_string(m_label_names.size()) + " label values, got " +
                      std::to_string(label_values.size()));
  }
  std::lock_guard lock(m_mutex);
  auto it = m_children.find(label_values);
  if (it == m_children.end()) {
    it = m_children.emplace(label_values, make()).first;
  }
  return *it->second;
}

template <typename Metric>
bool Family<Metric>::remove(const std::vector<std::string>& label_values) {
  std::lock_guard lock(m_mutex);
  return m_children.erase(label_values) > 0;
}

template <typename Metric>
void Family<Metric>::clear() {
  std::lock_guard lock(m_mutex);
  m_children.clear();
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

void Registry::check_new(const std::string& name, const std::vector<std::string>& label_names, MetricType type) const {
  if (!is_valid_metric_name(name)) {
    programming_error("invalid metric name \"" + name + "\"");
  }
  for (std::size_t i = 0; i < label_names.size(); ++i) {
    const auto& label = label_names[i];
    if (!is_valid_label_name(label) || label.starts_with("__")) {
      programming_error(name + ": invalid label name \"" + label + "\"");
    }
    if (type == MetricType::histogram && label == "le") {
      programming_error(name + ": a histogram cannot have a label named \"le\"");
    }
    if (std::find(label_names.begin(), label_names.begin() + static_cast<std::ptrdiff_t>(i), label) !=
        label_names.begin() + static_cast<std::ptrdiff_t>(i)) {
      programming_error(name + ": duplicate label name \"" + label + "\"");
    }
  }
  if (m_families.contains(name)) {
    programming_error("metric \"" + name + "\" is already registered");
  }
}

CounterFamily& Registry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
  std::lock_guard lock(m_mutex);
  check_new(name, label_names, MetricType::counter);
  const bool plain = label_names.empty();
  Entry entry{MetricType::counter, nullptr, nullptr, nullptr};
  entry.counter.reset(new CounterFamily(name, std::move(help), std::move(label_names), {}));
  if (plain) {
    entry.counter->get();
  }
  return *m_families.emplace(std::move(name), std::move(entry)).first->second.counter;
}

GaugeFamily& Registry::gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  std::lock_guard lock(m_mutex);
  check_new(name, label_names, MetricType::gauge);
  const bool plain = label_names.empty();
  Entry entry{MetricType::gauge, nullptr, nullptr, nullptr};
  entry.gauge.reset(new GaugeFamily(name, std::move(help), std::move(label_names), {}));
  if (plain) {
    entry.gauge->get();
  }
  return *m_families.emplace(std::move(name), std::move(entry)).first->second.gauge;
}

HistogramFamily& Registry::histogram(std::string name, std::string help, std::vector<double> buckets,
                                     std::vector<std::string> label_names) {
  std::lock_guard lock(m_mutex);
  check_new(name, label_names, MetricType::histogram);
  check_buckets(name, buckets);
  const bool plain = label_names.empty();
  Entry entry{MetricType::histogram, nullptr, nullptr, nullptr};
  entry.histogram.reset(new HistogramFamily(name, std::move(help), std::move(label_names), std::move(buckets)));
  if (plain) {
    entry.histogram->get();
  }
  return *m_families.emplace(std::move(name), std::move(entry)).first->second.histogram;
}

std::string Registry::expose() const {
  std::string out;
  std::lock_guard lock(m_mutex);
  for (const auto& [name, entry] : m_families) {
    switch (entry.type) {
      case MetricType::counter:
        expose_family(out, *entry.counter);
        break;
      case MetricType::gauge:
        expose_family(out, *entry.gauge);
        break;
      case MetricType::histogram:
        expose_family(out, *entry.histogram);
        break;
    }
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (ec != std::errc()) {
    return "NaN";
  }
  return std::string(buffer, end);
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
}  // namespace

bool is_valid_metric_name(std::string_view name) {
  if (name.empty() || !(is_alpha(name[0]) || name[0] == ':')) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) { return is_alpha(c) || is_digit(c) || c == ':'; });
}

bool is_valid_label_name(std::string_view name) {
  if (name.empty() || !is_alpha(name[0])) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) { return is_alpha(c) || is_digit(c); });
}

}  // namespace gpuorch::obs
