#include "proxy/admin/runtime_requests.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <initializer_list>

#include "config/units.hpp"
#include "routing/release.hpp"

namespace tg::proxy {
namespace {

namespace json = boost::json;

/// Longest message shown on a maintenance page; the page is rendered for every refused request.
constexpr std::size_t max_message_bytes = 4096;

/// The body as a JSON object whose keys are all in `known`; null with `error` set otherwise.
const json::object* object_with_keys(const json::value& body,
                                     std::initializer_list<std::string_view> known,
                                     std::string& error) {
    if (!body.is_object()) {
        error = "the body must be a JSON object";
        return nullptr;
    }
    for (const auto& [key, _] : body.as_object()) {
        if (std::find(known.begin(), known.end(), std::string_view(key)) == known.end()) {
            error = "unknown key \"" + std::string(key) + "\"";
            return nullptr;
        }
    }
    return &body.as_object();
}

std::optional<json::value> parse_json(std::string_view body, std::string& error) {
    json::error_code ec;
    auto value = json::parse(body, ec);
    if (ec) {
        error = "malformed JSON: " + ec.message();
        return std::nullopt;
    }
    return value;
}

}  // namespace

std::optional<Maintenance> parse_maintenance_request(std::string_view body, std::string& error) {
    const auto value = parse_json(body, error);
    if (!value) return std::nullopt;
    const auto* object = object_with_keys(*value, {"enabled", "message", "retry_after"}, error);
    if (!object) return std::nullopt;
    Maintenance maintenance;
    const auto* enabled = object->if_contains("enabled");
    if (!enabled || !enabled->is_bool()) {
        error = "\"enabled\" must be true or false";
        return std::nullopt;
    }
    maintenance.enabled = enabled->as_bool();
    if (const auto* message = object->if_contains("message")) {
        if (!message->is_string()) {
            error = "\"message\" must be a string";
            return std::nullopt;
        }
        if (message->as_string().size() > max_message_bytes) {
            error = "\"message\" is longer than " + std::to_string(max_message_bytes) + " bytes";
            return std::nullopt;
        }
        maintenance.message = message->as_string();
    }
    maintenance.retry_after = maintenance.enabled ? default_maintenance_retry_after : 0;
    if (const auto* retry_after = object->if_contains("retry_after")) {
        if (!retry_after->is_int64() || retry_after->as_int64() < 0) {
            error = "\"retry_after\" must be a whole number of seconds, 0 or more";
            return std::nullopt;
        }
        maintenance.retry_after = retry_after->as_int64();
    }
    if (!maintenance.enabled) maintenance = Maintenance{};
    return maintenance;
}

std::optional<ReleaseRequest> parse_release_request(std::string_view body, std::string& error) {
    const auto value = parse_json(body, error);
    if (!value) return std::nullopt;
    const auto* object = object_with_keys(*value, {"active", "drain_timeout", "force"}, error);
    if (!object) return std::nullopt;
    ReleaseRequest request;
    const auto* active = object->if_contains("active");
    const auto color =
        active && active->is_string() ? routing::parse_color(active->as_string()) : std::nullopt;
    if (!color) {
        error = "\"active\" must be \"blue\" or \"green\"";
        return std::nullopt;
    }
    request.active = *color;
    if (const auto* timeout = object->if_contains("drain_timeout")) {
        const auto duration =
            timeout->is_string() ? config::parse_duration(timeout->as_string()) : std::nullopt;
        if (!duration) {
            error = "\"drain_timeout\" must be a duration such as \"120s\" or \"2m\"";
            return std::nullopt;
        }
        request.drain_timeout = *duration;
    }
    if (const auto* force = object->if_contains("force")) {
        if (!force->is_bool()) {
            error = "\"force\" must be true or false";
            return std::nullopt;
        }
        request.force = force->as_bool();
    }
    return request;
}

}  // namespace tg::proxy
