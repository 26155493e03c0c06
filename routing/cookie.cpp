#include "routing/cookie.hpp"

#include <cstddef>

#include "routing/text.hpp"

namespace tg::routing {
namespace {

bool equals_ignoring_case(std::string_view a, std::string_view lower_b) {
    if (a.size() != lower_b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const char c = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
        if (c != lower_b[i]) return false;
    }
    return true;
}

}  // namespace

bool harden_session_cookie(std::string_view set_cookie_value, std::string& out) {
    const std::size_t pair_end = set_cookie_value.find(';');
    const std::string_view pair = set_cookie_value.substr(0, pair_end);
    const std::size_t equals = pair.find('=');
    // Cookie names are case-sensitive (RFC 6265 §5.2 step 5 keeps the name as sent).
    if (equals == std::string_view::npos ||
        trim_optional_whitespace(pair.substr(0, equals)) != "session_id")
        return false;

    bool has_secure = false;
    bool has_same_site = false;
    std::string_view attributes = pair_end == std::string_view::npos
                                      ? std::string_view{}
                                      : set_cookie_value.substr(pair_end + 1);
    while (!attributes.empty()) {
        const std::size_t end = attributes.find(';');
        const std::string_view attribute = attributes.substr(0, end);
        attributes =
            end == std::string_view::npos ? std::string_view{} : attributes.substr(end + 1);
        const std::string_view name =
            trim_optional_whitespace(attribute.substr(0, attribute.find('=')));
        has_secure = has_secure || equals_ignoring_case(name, "secure");
        has_same_site = has_same_site || equals_ignoring_case(name, "samesite");
    }
    if (has_secure && has_same_site) return false;

    // Appending after a trailing "; " would leave an empty attribute behind.
    std::string_view base = set_cookie_value;
    while (!base.empty() && (is_optional_whitespace(base.back()) || base.back() == ';'))
        base.remove_suffix(1);
    out.assign(base);
    if (!has_secure) out.append("; Secure");
    if (!has_same_site) out.append("; SameSite=Lax");
    return true;
}

}  // namespace tg::routing
