#include "proxy/admin/admin_json.hpp"

#include "proxy/observe/json_text.hpp"

namespace tg::proxy {

namespace json = boost::json;

http::response<http::string_body> json_response(http::status status, const json::value& body,
                                                unsigned version) {
    http::response<http::string_body> response{status, version};
    response.set(http::field::content_type, "application/json");
    response.set(http::field::cache_control, "no-store");
    response.body() = json::serialize(body) + "\n";
    response.prepare_payload();
    return response;
}

json::object error_body(std::string message) {
    return {{"error", std::move(message)}};
}

json::object maintenance_setting_json(const Maintenance& maintenance) {
    return {{"enabled", maintenance.enabled},
            {"message", maintenance.message},
            {"retry_after", maintenance.retry_after}};
}

json::value maintenance_json(const Maintenance* maintenance) {
    if (!maintenance || !maintenance->enabled) return nullptr;
    return maintenance_setting_json(*maintenance);
}

std::string rfc3339(std::chrono::system_clock::time_point time) {
    std::string text;
    append_rfc3339(text, time);
    return text;
}

}  // namespace tg::proxy
