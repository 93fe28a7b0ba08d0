#pragma once

#include <string>
#include <string_view>

namespace gpuorch::model {

/// Checks a batch/v1 CronJob schedule as the API server's validation does:
/// five fields (minute, hour, day of month, month, day of week; numbers,
/// month and day names, `*`, `?`, ranges, steps, lists) or a descriptor
/// (@hourly, @daily, ..., @every DURATION). Returns why it is invalid, in the
/// API server's words, or an empty string when it is valid.
std::string cron_schedule_error(std::string_view schedule);

}  // namespace gpuorch::model
