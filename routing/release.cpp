#include "routing/release.hpp"

namespace tg::routing {

std::string_view color_name(config::Color color) noexcept {
    return color == config::Color::green ? "green" : "blue";
}

std::optional<config::Color> parse_color(std::string_view text) noexcept {
    if (text == "blue") return config::Color::blue;
    if (text == "green") return config::Color::green;
    return std::nullopt;
}

const std::string& active_pool(const config::TenantPolicy& policy,
                               std::optional<config::Color> override_active) noexcept {
    if (!policy.release) return policy.pool;
    const config::Color color = override_active.value_or(policy.release->active);
    return color == config::Color::green ? policy.release->green : policy.release->blue;
}

}  // namespace tg::routing
