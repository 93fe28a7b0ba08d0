#include <chrono>
#include <string>

#include <doctest/doctest.h>
#include <gpuorch/model/time.hpp>

namespace gpuorch::model {
namespace {

using namespace std::chrono;

Time at(int y, unsigned mo, unsigned d, int h, int mi, int s, long long ns = 0) {
  return time_point_cast<system_clock::duration>(sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} +
                                                 seconds{s} + nanoseconds{ns});
}

std::string parse_error(std::string_view text) {
  auto r = parse_time(text);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == ErrorCode::invalid);
  return r.error().message();
}

}  // namespace

TEST_CASE("parse_time reads RFC 3339") {
  struct Case {
    std::string_view text;
    Time expected;
  };
  const Case cases[] = {
      {"2024-05-01T12:00:00Z", at(2024, 5, 1, 12, 0, 0)},
      {"2024-05-01t12:00:00z", at(2024, 5, 1, 12, 0, 0)},
      {"1970-01-01T00:00:00Z", Time{}},
      {"2024-02-29T23:59:59Z", at(2024, 2, 29, 23, 59, 59)},
      {"2024-05-01T12:00:00.5Z", at(2024, 5, 1, 12, 0, 0, 500'000'000)},
      {"2024-05-01T12:00:00.123456789Z", at(2024, 5, 1, 12, 0, 0, 123'456'789)},
      {"2024-05-01T12:00:00.1234567891Z", at(2024, 5, 1, 12, 0, 0, 123'456'789)},
      {"2024-05-01T14:30:00+02:30", at(2024, 5, 1, 12, 0, 0)},
      {"2024-05-01T07:00:00-05:00", at(2024, 5, 1, 12, 0, 0)},
      {"2024-01-01T01:00:00+02:00", at(2023, 12, 31, 23, 0, 0)},
      {"1969-12-31T23:59:59.25Z", Time{} - milliseconds{750}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto r = parse_time(c.text);
    REQUIRE(r.ok());
    CHECK(*r == c.expected);
  }
}

TEST_CASE("parse_time rejects malformed times with the reason") {
  const std::string hint = " (expected RFC 3339, e.g. \"2024-05-01T12:00:00Z\")";
  CHECK(parse_error("") == "invalid time \"\": bad date" + hint);
  CHECK(parse_error("2024-5-01T12:00:00Z") == "invalid time \"2024-5-01T12:00:00Z\": bad date" + hint);
  CHECK(parse_error("2024-05-01 12:00:00Z") ==
        "invalid time \"2024-05-01 12:00:00Z\": missing \"T\" between date and time" + hint);
  CHECK(parse_error("2024-05-01T12:00Z") == "invalid time \"2024-05-01T12:00Z\": bad time of day" + hint);
  CHECK(parse_error("2024-13-01T12:00:00Z") == "invalid time \"2024-13-01T12:00:00Z\": month out of range" + hint);
  CHECK(parse_error("2023-02-29T12:00:00Z") == "invalid time \"2023-02-29T12:00:00Z\": day out of range" + hint);
  CHECK(parse_error("2024-04-31T12:00:00Z") == "invalid time \"2024-04-31T12:00:00Z\": day out of range" + hint);
  CHECK(parse_error("2024-05-01T24:00:00Z") == "invalid time \"2024-05-01T24:00:00Z\": hour out of range" + hint);
  CHECK(parse_error("2024-05-01T12:60:00Z") == "invalid time \"2024-05-01T12:60:00Z\": minute out of range" + hint);
  CHECK(parse_error("2024-05-01T12:00:60Z") == "invalid time \"2024-05-01T12:00:60Z\": second out of range" + hint);
  CHECK(parse_error("2024-05-01T12:00:00") ==
        "invalid time \"2024-05-01T12:00:00\": missing time zone (\"Z\" or an offset such as \"+02:00\")" + hint);
  CHECK(parse_error("2024-05-01T12:00:00.Z") ==
        "invalid time \"2024-05-01T12:00:00.Z\": missing digits after \".\"" + hint);
  CHECK(parse_error("2024-05-01T12:00:00+0200") == "invalid time \"2024-05-01T12:00:00+0200\": bad UTC offset" + hint);
  CHECK(parse_error("2024-05-01T12:00:00+24:00") ==
        "invalid time \"2024-05-01T12:00:00+24:00\": bad UTC offset" + hint);
  CHECK(parse_error("2024-05-01T12:00:00Zjunk") ==
        "invalid time \"2024-05-01T12:00:00Zjunk\": unexpected \"junk\" at the end" + hint);
}

TEST_CASE("format_time prints UTC at the requested precision") {
  const Time t = at(2024, 5, 1, 12, 3, 4, 120'456'000);
  CHECK(format_time(t) == "2024-05-01T12:03:04Z");
  CHECK(format_time(t, TimePrecision::milliseconds) == "2024-05-01T12:03:04.120Z");
  CHECK(format_time(t, TimePrecision::microseconds) == "2024-05-01T12:03:04.120456Z");
  CHECK(format_time(t, TimePrecision::nanoseconds) == "2024-05-01T12:03:04.120456000Z");
  CHECK(format_time(t, TimePrecision::automatic) == "2024-05-01T12:03:04.120456Z");
  CHECK(format_time(at(2024, 5, 1, 12, 3, 4), TimePrecision::automatic) == "2024-05-01T12:03:04Z");
  CHECK(format_time(Time{} - milliseconds{750}, TimePrecision::milliseconds) == "1969-12-31T23:59:59.250Z");
}

TEST_CASE("RFC 3339 round trips") {
  const std::string_view canonical[] = {"2024-05-01T12:00:00Z", "1999-12-31T23:59:59Z", "2000-02-29T00:00:00Z",
                                        "2038-01-19T03:14:08Z"};
  for (const auto text : canonical) {
    CAPTURE(text);
    CHECK(format_time(parse_time(text).value_or_throw()) == text);
  }
  const std::string_view nano[] = {"2024-05-01T12:00:00.000000001Z", "2024-05-01T12:00:00.5Z"};
  for (const auto text : nano) {
    CAPTURE(text);
    CHECK(format_time(parse_time(text).value_or_throw(), TimePrecision::automatic) == text);
  }
  // An offset is normalised to UTC.
  CHECK(format_time(parse_time("2024-05-01T14:00:00+02:00").value_or_throw()) == "2024-05-01T12:00:00Z");
}

}  // namespace gpuorch::model
