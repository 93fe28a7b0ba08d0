#include "logging.hpp"

#include <chrono>
#include <memory>
#include <mutex>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/formatter.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace gpuorch::cli {
namespace {

spdlog::level::level_enum level_for(int verbosity) {
  if (verbosity >= 6) {
    return spdlog::level::trace;
  }
  if (verbosity >= 4) {
    return spdlog::level::debug;
  }
  return spdlog::level::info;
}

/// One JSON object per line: {"ts":"…","level":"info","logger":"…","msg":"…"}.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(msg.time.time_since_epoch()).count() % 1000000;
    nlohmann::json line = {
        {"ts", fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06d}Z", fmt::gmtime(std::chrono::system_clock::to_time_t(msg.time)),
                           micros)},
        {"level",
         std::string(spdlog::level::to_string_view(msg.level).data(), spdlog::level::to_string_view(msg.level).size())},
        {"msg", std::string(msg.payload.data(), msg.payload.size())},
    };
    if (msg.logger_name.size() > 0) {
      line["logger"] = std::string(msg.logger_name.data(), msg.logger_name.size());
    }
    const auto text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

Status setup_logging(int verbosity, const std::string& format, std::ostream& err) {
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(err, /*force_flush=*/true);
  if (format == "json") {
    sink->set_formatter(std::make_unique<JsonFormatter>());
  } else if (format == "text") {
    sink->set_pattern("%C%m%d %H:%M:%S.%f %^%L%$ %v");
  } else {
    return Error(ErrorCode::usage, fmt::format("--log-format: must be text or json, got \"{}\"", format));
  }
  auto logger = std::make_shared<spdlog::logger>("gpuorch", std::move(sink));
  logger->set_level(level_for(verbosity));
  spdlog::set_default_logger(std::move(logger));
  return {};
}

}  // namespace gpuorch::cli
