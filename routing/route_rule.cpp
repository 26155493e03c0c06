#include "routing/route_rule.hpp"

#include <array>
#include <cstddef>
#include <cstring>
#include <string>

namespace tg::routing {
namespace {

constexpr std::string_view database_manager = "/web/database";

bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

int hex_value(char c) {
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// RFC 3986 §3.1 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), followed by "://".
std::size_t absolute_form_authority_start(std::string_view target) {
    if (target.empty() || !is_alpha(target.front())) return 0;
    std::size_t i = 1;
    while (i < target.size() && (is_alpha(target[i]) || is_digit(target[i]) || target[i] == '+' ||
                                 target[i] == '-' || target[i] == '.'))
        ++i;
    return target.substr(i).starts_with("://") ? i + 3 : 0;
}

bool is_under_database_manager(std::string_view path) {
    return path.starts_with(database_manager) &&
           (path.size() == database_manager.size() || path[database_manager.size()] == '/');
}

/// Whether a "." or ".." segment occurs in `path`.
bool has_dot_segment(std::string_view path) {
    for (std::size_t dot = path.find('.'); dot != std::string_view::npos;
         dot = path.find('.', dot + 1)) {
        if (dot != 0 && path[dot - 1] != '/') continue;
        std::size_t end = dot + 1;
        if (end < path.size() && path[end] == '.') ++end;
        if (end == path.size() || path[end] == '/') return true;
    }
    return false;
}

/// Percent-decodes `path` into `out` (which has room for path.size() + 1 characters) with runs
/// of '/' merged and a leading '/' ensured; returns the length written. Malformed escapes stay
/// literal, as werkzeug leaves them.
std::size_t decode_and_merge(std::string_view path, char* out) {
    std::size_t length = 0;
    if (!path.starts_with('/')) out[length++] = '/';
    for (std::size_t i = 0; i < path.size(); ++i) {
        char c = path[i];
        if (c == '%' && i + 2 < path.size() && hex_value(path[i + 1]) >= 0 &&
            hex_value(path[i + 2]) >= 0) {
            c = static_cast<char>(hex_value(path[i + 1]) * 16 + hex_value(path[i + 2]));
            i += 2;
        }
        if (c == '/' && length > 0 && out[length - 1] == '/') continue;
        out[length++] = c;
    }
    return length;
}

/// RFC 3986 §5.2.4 remove_dot_segments, in place, on a path that starts with '/' and has no
/// empty segments except a trailing one; returns the new length.
std::size_t remove_dot_segments(char* path, std::size_t length) {
    std::size_t written = 0;
    std::size_t read = 0;
    while (read < length) {
        const std::size_t segment = read + 1;
        const void* slash = std::memchr(path + segment, '/', length - segment);
        const std::size_t end =
            slash == nullptr ? length
                             : static_cast<std::size_t>(static_cast<const char*>(slash) - path);
        const std::string_view name(path + segment, end - segment);
        const bool last = end == length;
        if (name == "." || name == "..") {
            if (name == "..") {
                while (written > 0 && path[written - 1] != '/') --written;
                if (written > 0) --written;
            }
            if (last) path[written++] = '/';
        } else {
            // written <= read always holds, so this copy only ever moves text leftwards.
            path[written++] = '/';
            std::memmove(path + written, path + segment, name.size());
            written += name.size();
        }
        read = end;
    }
    if (written == 0) path[written++] = '/';
    return written;
}

}  // namespace

std::string_view target_path(std::string_view target) noexcept {
    if (const std::size_t authority = absolute_form_authority_start(target); authority != 0) {
        const std::size_t path = target.find_first_of("/?#", authority);
        if (path == std::string_view::npos || target[path] != '/') return "/";
        target.remove_prefix(path);
    }
    return target.substr(0, target.find_first_of("?#"));
}

Route classify_route(std::string_view target) noexcept {
    const std::string_view path = target_path(target);
    if (path == "/websocket" || path.starts_with("/websocket/") ||
        path.starts_with("/longpolling/"))
        return Route::longpolling;
    return Route::web;
}

std::string_view route_name(Route route) noexcept {
    return route == Route::longpolling ? "longpolling" : "web";
}

bool is_database_manager_path(std::string_view target) {
    const std::string_view path = target_path(target);
    if (path.starts_with('/') && path.find('%') == std::string_view::npos &&
        path.find("//") == std::string_view::npos && !has_dot_segment(path))
        return is_under_database_manager(path);

    std::array<char, 1024> stack_buffer;
    std::string heap_buffer;
    char* buffer = stack_buffer.data();
    if (path.size() + 1 > stack_buffer.size()) {
        heap_buffer.resize(path.size() + 1);
        buffer = heap_buffer.data();
    }
    std::size_t length = decode_and_merge(path, buffer);
    if (is_under_database_manager({buffer, length})) return true;
    length = remove_dot_segments(buffer, length);
    return is_under_database_manager({buffer, length});
}

}  // namespace tg::routing
