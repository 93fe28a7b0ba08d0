#include <gpuorch/model/time.hpp>

#include <fmt/format.h>

namespace gpuorch::model {
namespace {

Error invalid(std::string_view text, std::string_view why) {
  return Error(ErrorCode::invalid,
               fmt::format("invalid time \"{}\": {} (expected RFC 3339, e.g. \"2024-05-01T12:00:00Z\")", text, why));
}

// Reads exactly `count` digits at `pos`; false when any is not a digit.
bool read_digits(std::string_view text, std::size_t pos, std::size_t count, int& out) {
  if (pos + count > text.size()) {
    return false;
  }
  int v = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    v = v * 10 + (text[i] - '0');
  }
  out = v;
  return true;
}

bool expect(std::string_view text, std::size_t pos, char c) {
  return pos < text.size() && text[pos] == c;
}

}  // namespace

Result<Time> parse_time(std::string_view text) {
  using namespace std::chrono;
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!read_digits(text, 0, 4, year) || !expect(text, 4, '-') || !read_digits(text, 5, 2, month) ||
      !expect(text, 7, '-') || !read_digits(text, 8, 2, day)) {
    return invalid(text, "bad date");
  }
  if (!(expect(text, 10, 'T') || expect(text, 10, 't'))) {
    return invalid(text, "missing \"T\" between date and time");
  }
  if (!read_digits(text, 11, 2, hour) || !expect(text, 13, ':') || !read_digits(text, 14, 2, minute) ||
      !expect(text, 16, ':') || !read_digits(text, 17, 2, second)) {
    return invalid(text, "bad time of day");
  }
  const year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                            std::chrono::day{static_cast<unsigned>(day)}};
  if (month < 1 || month > 12) {
    return invalid(text, "month out of range");
  }
  if (!date.ok()) {
    return invalid(text, "day out of range");
  }
  if (hour > 23) {
    return invalid(text, "hour out of range");
  }
  if (minute > 59) {
    return invalid(text, "minute out of range");
  }
  if (second > 59) {
    return invalid(text, "second out of range");
  }
  std::size_t pos = 19;
  nanoseconds fraction{0};
  if (expect(text, pos, '.')) {
    ++pos;
    const std::size_t begin = pos;
    long long nanos = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (pos - begin < 9) {
        nanos = nanos * 10 + (text[pos] - '0');
      }
      ++pos;
    }
    if (pos == begin) {
      return invalid(text, "missing digits after \".\"");
    }
    for (std::size_t digits = pos - begin; digits < 9; ++digits) {
      nanos *= 10;
    }
    fraction = nanoseconds{nanos};
  }
  minutes offset{0};
  if (expect(text, pos, 'Z') || expect(text, pos, 'z')) {
    ++pos;
  } else if (expect(text, pos, '+') || expect(text, pos, '-')) {
    const bool negative = text[pos] == '-';
    int off_hour = 0;
    int off_minute = 0;
    if (!read_digits(text, pos + 1, 2, off_hour) || !expect(text, pos + 3, ':') ||
        !read_digits(text, pos + 4, 2, off_minute) || off_hour > 23 || off_minute > 59) {
      return invalid(text, "bad UTC offset");
    }
    offset = hours{off_hour} + minutes{off_minute};
    offset = negative ? -offset : offset;
    pos += 6;
  } else {
    return invalid(text, "missing time zone (\"Z\" or an offset such as \"+02:00\")");
  }
  if (pos != text.size()) {
    return invalid(text, fmt::format("unexpected \"{}\" at the end", text.substr(pos)));
  }
  const auto local = sys_days{date} + hours{hour} + minutes{minute} + seconds{second} + fraction;
  return time_point_cast<system_clock::duration>(local - offset);
}

std::string format_time(Time time, TimePrecision precision) {
  using namespace std::chrono;
  const auto ns = time_point_cast<nanoseconds>(time);
  const auto days = floor<std::chrono::days>(ns);
  const year_month_day date{days};
  const auto in_day = ns - days;
  const auto secs = duration_cast<seconds>(in_day);
  const long long frac = (in_day - secs).count();
  const long long s = secs.count();
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(date.year()),
                                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()), s / 3600,
                                s / 60 % 60, s % 60);
  switch (precision) {
    case TimePrecision::seconds:
      break;
    case TimePrecision::milliseconds:
      out += fmt::format(".{:03}", frac / 1'000'000);
      break;
    case TimePrecision::microseconds:
      out += fmt::format(".{:06}", frac / 1'000);
      break;
    case TimePrecision::nanoseconds:
      out += fmt::format(".{:09}", frac);
      break;
    case TimePrecision::automatic:
      if (frac != 0) {
        std::string digits = fmt::format("{:09}", frac);
        digits.erase(digits.find_last_not_of('0') + 1);
        out += '.';
        out += digits;
      }
      break;
  }
  out += 'Z';
  return out;
}

}  // namespace gpuorch::model
