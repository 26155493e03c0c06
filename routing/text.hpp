#pragma once

#include <string_view>

/// Small text helpers for header values (RFC 9110 §5.6.3 optional whitespace).
namespace tg::routing {

inline bool is_optional_whitespace(char c) {
    return c == ' ' || c == '\t';
}

/// `text` without leading and trailing spaces and tabs.
inline std::string_view trim_optional_whitespace(std::string_view text) {
    while (!text.empty() && is_optional_whitespace(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_optional_whitespace(text.back())) text.remove_suffix(1);
    return text;
}

}  // namespace tg::routing
