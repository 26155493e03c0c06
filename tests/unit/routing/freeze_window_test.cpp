#include "routing/freeze_window.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace std::chrono;
using tg::config::FreezeWindow;
using tg::routing::active_freeze_window;

namespace {

FreezeWindow window(std::string name, std::vector<int> days, int from, int to, int offset = 0) {
    FreezeWindow w;
    w.name = std::move(name);
    w.days_of_month = std::move(days);
    w.from_minute = from;
    w.to_minute = to;
    w.utc_offset_minutes = offset;
    return w;
}

/// A UTC instant.
system_clock::time_point at(year_month_day date, int hour, int minute, int second = 0) {
    return sys_days(date) + hours(hour) + minutes(minute) + seconds(second);
}

/// The active window's name, or "-".
std::string active(const std::vector<FreezeWindow>& windows, system_clock::time_point now) {
    const auto hit = active_freeze_window(windows, now);
    return hit ? std::string(hit->name) : "-";
}

const std::vector<FreezeWindow> month_end{window("month-end-billing", {-2, -1, 1}, 0, 1439)};

}  // namespace

TEST_CASE("freeze windows count back from the end of each month", "[routing][freeze_window]") {
    // 31-day month.
    CHECK(active(month_end, at(2024y / January / 29, 12, 0)) == "-");
    CHECK(active(month_end, at(2024y / January / 30, 12, 0)) == "month-end-billing");
    CHECK(active(month_end, at(2024y / January / 31, 12, 0)) == "month-end-billing");
    CHECK(active(month_end, at(2024y / February / 1, 12, 0)) == "month-end-billing");
    CHECK(active(month_end, at(2024y / February / 2, 0, 0)) == "-");
    // 30-day month.
    CHECK(active(month_end, at(2024y / April / 28, 12, 0)) == "-");
    CHECK(active(month_end, at(2024y / April / 29, 12, 0)) == "month-end-billing");
    CHECK(active(month_end, at(2024y / April / 30, 12, 0)) == "month-end-billing");
    CHECK(active(month_end, at(2024y / December / 31, 23, 59)) == "month-end-billing");
}

TEST_CASE("freeze windows know February in leap and common years", "[routing][freeze_window]") {
    // 2024 is a leap year: the last two days are the 28th and 29th.
    CHECK(active(month_end, at(2024y / February / 27, 12, 0)) == "-");
    CHECK(active(month_end, at(2024y / February / 28, 12, 0)) == "month-end-billing");
    CHECK(active(month_end, at(2024y / February / 29, 12, 0)) == "month-end-billing");
    // 2023 is not: the 27th and 28th.
    CHECK(active(month_end, at(2023y / February / 26, 12, 0)) == "-");
    CHECK(active(month_end, at(2023y / February / 27, 12, 0)) == "month-end-billing");
    CHECK(active(month_end, at(2023y / February / 28, 12, 0)) == "month-end-billing");
    CHECK(active(month_end, at(2023y / March / 1, 12, 0)) == "month-end-billing");
    // Centuries: 2100 is common, 2000 was leap.
    CHECK(active(month_end, at(2100y / February / 27, 12, 0)) == "month-end-billing");
    CHECK(active(month_end, at(2000y / February / 27, 12, 0)) == "-");
    CHECK(active(month_end, at(2000y / February / 29, 12, 0)) == "month-end-billing");
}

TEST_CASE("freeze window days that a month lacks do not apply", "[routing][freeze_window]") {
    const std::vector<FreezeWindow> day31{window("31st", {31}, 0, 1439)};
    CHECK(active(day31, at(2024y / March / 31, 1, 0)) == "31st");
    CHECK(active(day31, at(2024y / April / 30, 1, 0)) == "-");
    CHECK(active(day31, at(2024y / May / 1, 1, 0)) == "-");
    const std::vector<FreezeWindow> back31{window("-31", {-31}, 0, 1439)};
    CHECK(active(back31, at(2024y / January / 1, 1, 0)) == "-31");
    CHECK(active(back31, at(2024y / April / 1, 1, 0)) == "-");
    CHECK(active(back31, at(2024y / February / 1, 1, 0)) == "-");
    const std::vector<FreezeWindow> back29{window("-29", {-29}, 0, 1439)};
    CHECK(active(back29, at(2024y / February / 1, 1, 0)) == "-29");
    CHECK(active(back29, at(2023y / February / 1, 1, 0)) == "-");
}

TEST_CASE("freeze window minutes are inclusive at both ends", "[routing][freeze_window]") {
    const std::vector<FreezeWindow> office{window("office", {15}, 9 * 60, 17 * 60 + 30)};
    CHECK(active(office, at(2024y / June / 15, 8, 59, 59)) == "-");
    CHECK(active(office, at(2024y / June / 15, 9, 0, 0)) == "office");
    CHECK(active(office, at(2024y / June / 15, 17, 30, 59)) == "office");
    CHECK(active(office, at(2024y / June / 15, 17, 31, 0)) == "-");
    CHECK(active(office, at(2024y / June / 16, 12, 0)) == "-");
    const std::vector<FreezeWindow> whole_day{window("day", {15}, 0, 1439)};
    CHECK(active(whole_day, at(2024y / June / 15, 0, 0)) == "day");
    CHECK(active(whole_day, at(2024y / June / 15, 23, 59, 59)) == "day");
    CHECK(active(whole_day, at(2024y / June / 14, 23, 59, 59)) == "-");
    CHECK(active(whole_day, at(2024y / June / 16, 0, 0)) == "-");
}

TEST_CASE("freeze windows are read in their UTC offset", "[routing][freeze_window]") {
    const std::vector<FreezeWindow> paris{window("first", {1}, 0, 1439, 120)};
    CHECK(active(paris, at(2024y / March / 31, 21, 59)) == "-");     // 23:59 on the 31st
    CHECK(active(paris, at(2024y / March / 31, 22, 0)) == "first");  // 00:00 on the 1st
    CHECK(active(paris, at(2024y / April / 1, 21, 59)) == "first");
    CHECK(active(paris, at(2024y / April / 1, 22, 0)) == "-");

    const std::vector<FreezeWindow> new_york{window("last", {-1}, 0, 1439, -300)};
    CHECK(active(new_york, at(2024y / March / 1, 3, 0)) == "last");  // 22:00 on Feb 29th
    CHECK(active(new_york, at(2024y / March / 1, 5, 0)) == "-");
    CHECK(active(new_york, at(2023y / March / 1, 4, 59)) == "last");  // 23:59 on Feb 28th

    const std::vector<FreezeWindow> new_year{window("new-year", {1}, 0, 60, 60)};
    CHECK(active(new_year, at(2024y / December / 31, 23, 30)) == "new-year");  // 00:30, 2025
    CHECK(active(new_year, at(2025y / January / 1, 0, 1)) == "-");             // 01:01

    const std::vector<FreezeWindow> india{window("noon", {10}, 12 * 60, 12 * 60, 330)};
    CHECK(active(india, at(2024y / October / 10, 6, 30)) == "noon");
    CHECK(active(india, at(2024y / October / 10, 6, 29, 59)) == "-");
}

TEST_CASE("the first matching freeze window is reported", "[routing][freeze_window]") {
    const std::vector<FreezeWindow> windows{window("night", {15}, 0, 6 * 60),
                                            window("mid-month", {14, 15, 16}, 0, 1439),
                                            window("also-night", {15}, 0, 60)};
    CHECK(active(windows, at(2024y / June / 15, 0, 30)) == "night");
    CHECK(active(windows, at(2024y / June / 15, 12, 0)) == "mid-month");
    CHECK(active(windows, at(2024y / June / 17, 0, 30)) == "-");
    CHECK_FALSE(active_freeze_window({}, at(2024y / June / 15, 0, 30)));
}

TEST_CASE("freeze windows work before the epoch and with sub-second times",
          "[routing][freeze_window]") {
    const std::vector<FreezeWindow> last_day{window("eoy", {-1}, 23 * 60 + 59, 23 * 60 + 59)};
    CHECK(active(last_day, at(1969y / December / 31, 23, 59, 30)) == "eoy");
    CHECK(active(last_day, at(1970y / January / 1, 0, 0) - nanoseconds(1)) == "eoy");
    CHECK(active(last_day, at(1970y / January / 1, 0, 0)) == "-");
}

TEST_CASE("freeze windows cross midnight when to is before from", "[routing][freeze_window]") {
    const std::vector<FreezeWindow> night{window("night", {-1}, 22 * 60, 2 * 60)};
    CHECK(active(night, at(2024y / February / 29, 21, 59)) == "-");
    CHECK(active(night, at(2024y / February / 29, 22, 0)) == "night");
    CHECK(active(night, at(2024y / March / 1, 1, 30)) == "night");  // the morning after the 29th
    CHECK(active(night, at(2024y / March / 1, 2, 1)) == "-");
    CHECK(active(night, at(2024y / February / 29, 1, 0)) == "-");  // the 28th is not listed
    CHECK(active(night, at(2024y / March / 31, 23, 0)) == "night");
    CHECK(active(night, at(2024y / April / 1, 0, 30)) == "night");
    const auto hit = active_freeze_window(night, at(2024y / February / 29, 23, 0));
    REQUIRE(hit);
    CHECK(hit->ends == at(2024y / March / 1, 2, 1));
}

TEST_CASE("a freeze ends when no window holds any more", "[routing][freeze_window]") {
    const auto hit = active_freeze_window(month_end, at(2024y / February / 28, 10, 0));
    REQUIRE(hit);
    CHECK(hit->name == "month-end-billing");
    CHECK(hit->ends == at(2024y / March / 2, 0, 0));  // 28th, 29th, 1st back to back
    const std::vector<FreezeWindow> office{window("office", {15}, 9 * 60, 17 * 60 + 30, 120)};
    const auto in_office = active_freeze_window(office, at(2024y / June / 15, 10, 0));
    REQUIRE(in_office);
    CHECK(in_office->ends == at(2024y / June / 15, 15, 31));  // 17:31 at +02:00
    const std::vector<FreezeWindow> chained{window("a", {15}, 0, 11 * 60 + 59),
                                            window("b", {15}, 12 * 60, 13 * 60)};
    const auto chain = active_freeze_window(chained, at(2024y / June / 15, 11, 0));
    REQUIRE(chain);
    CHECK(chain->name == "a");
    CHECK(chain->ends == at(2024y / June / 15, 13, 1));
}

TEST_CASE("a window open every day ends a year on at the latest", "[routing][freeze_window]") {
    std::vector<int> every_day;
    for (int day = 1; day <= 31; ++day) every_day.push_back(day);
    const std::vector<FreezeWindow> always{window("always", every_day, 0, 1439)};
    const auto now = at(2024y / June / 15, 11, 0);
    const auto hit = active_freeze_window(always, now);
    REQUIRE(hit);
    CHECK(hit->ends >= now + days(366));
    CHECK(hit->ends <= now + days(368));
}
