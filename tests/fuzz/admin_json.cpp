// The admin API's JSON bodies (proxy/admin/runtime_requests.*): PUT .../maintenance and
// POST .../release. A body is either refused with a reason or accepted with values the rest
// of the proxy can rely on, and an accepted body written back as JSON reads the same.
#include <boost/json.hpp>
#include <boost/json/src.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/units.hpp"
#include "fuzz_check.hpp"
#include "proxy/admin/runtime_requests.hpp"
#include "routing/release.hpp"

namespace json = boost::json;

namespace {

void check_maintenance(std::string_view body) {
    std::string error;
    const auto maintenance = tg::proxy::parse_maintenance_request(body, error);
    FUZZ_CHECK(maintenance.has_value() == error.empty());
    if (!maintenance) return;
    FUZZ_CHECK(maintenance->retry_after >= 0);
    FUZZ_CHECK(maintenance->message.size() <= 4096);
    if (!maintenance->enabled) {
        FUZZ_CHECK(maintenance->same_setting(tg::proxy::Maintenance{}));
        return;
    }
    const json::object again{{"enabled", true},
                             {"message", maintenance->message},
                             {"retry_after", maintenance->retry_after}};
    std::string again_error;
    const auto reparsed = tg::proxy::parse_maintenance_request(json::serialize(again), again_error);
    FUZZ_CHECK(reparsed && reparsed->same_setting(*maintenance));
}

void check_release(std::string_view body) {
    std::string error;
    const auto release = tg::proxy::parse_release_request(body, error);
    FUZZ_CHECK(release.has_value() == error.empty());
    if (!release) return;
    if (release->drain_timeout) FUZZ_CHECK(release->drain_timeout->count() >= 0);
    json::object again{{"active", tg::routing::color_name(release->active)},
                       {"force", release->force}};
    if (release->drain_timeout)
        again["drain_timeout"] = tg::config::format_duration(*release->drain_timeout);
    std::string again_error;
    const auto reparsed = tg::proxy::parse_release_request(json::serialize(again), again_error);
    FUZZ_CHECK(reparsed && reparsed->active == release->active &&
               reparsed->force == release->force &&
               reparsed->drain_timeout == release->drain_timeout);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    check_maintenance(body);
    check_release(body);
    return 0;
}
