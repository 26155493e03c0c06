#include "routing/host.hpp"

#include <cstddef>

namespace tg::routing {
namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/// RFC 3986 §3.2.2 reg-name = *( unreserved / pct-encoded / sub-delims ), without pct-encoded:
/// DNS names never need it (§3.2.2 recommends letters, digits and '-' for them) and decoding it
/// would give one tenant host several spellings.
bool is_reg_name_char(char c) {
    if (is_alpha(c) || is_digit(c)) return true;
    switch (c) {
        case '-':
        case '.':
        case '_':
        case '~':  // unreserved
        case '!':
        case '$':
        case '&':
        case '\'':
        case '(':
        case ')':  // sub-delims
        case '*':
        case '+':
        case ',':
        case ';':
        case '=':
            return true;
        default:
            return false;
    }
}

/// RFC 3986 §3.2.2 dec-octet "." dec-octet "." dec-octet "." dec-octet (no leading zeros).
bool is_ipv4_address(std::string_view text) {
    int octets = 0;
    std::size_t i = 0;
    while (true) {
        const std::size_t start = i;
        unsigned value = 0;
        while (i < text.size() && is_digit(text[i]) && i - start < 3) {
            value = value * 10 + static_cast<unsigned>(text[i] - '0');
            ++i;
        }
        const std::size_t length = i - start;
        if (length == 0 || value > 255 || (length > 1 && text[start] == '0')) return false;
        ++octets;
        if (i == text.size()) return octets == 4;
        if (text[i] != '.' || octets == 4) return false;
        ++i;
    }
}

/// RFC 3986 §3.2.2 IPv6address: eight h16 groups, or fewer with one "::", the last two groups
/// optionally written as an IPv4 address.
bool is_ipv6_address(std::string_view text) {
    if (text.empty()) return false;
    int groups = 0;
    bool compressed = false;
    std::size_t i = 0;
    if (text.starts_with("::")) {
        compressed = true;
        i = 2;
    } else if (text.front() == ':') {
        return false;
    }
    while (i < text.size()) {
        std::size_t end = text.find(':', i);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view piece = text.substr(i, end - i);
        if (piece.find('.') != std::string_view::npos) {
            if (end != text.size() || !is_ipv4_address(piece)) return false;
            groups += 2;
            break;
        }
        if (piece.empty() || piece.size() > 4) return false;
        for (const char c : piece) {
            if (!is_hex(c)) return false;
        }
        ++groups;
        if (end == text.size()) break;
        if (end + 1 < text.size() && text[end + 1] == ':') {
            if (compressed) return false;
            compressed = true;
            i = end + 2;
        } else {
            i = end + 1;
            if (i == text.size()) return false;  // a single trailing ':'
        }
    }
    return compressed ? groups <= 7 : groups == 8;
}

/// RFC 3986 §3.2.3 port = *DIGIT; an empty port is allowed there and means "the default".
bool is_valid_port(std::string_view text) {
    unsigned value = 0;
    for (const char c : text) {
        if (!is_digit(c)) return false;
        value = value * 10 + static_cast<unsigned>(c - '0');
        if (value > 65535) return false;
    }
    return true;
}

char to_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

bool normalize_host(std::string_view host_header, std::string& out) {
    std::string_view host;
    std::string_view port;
    bool has_port = false;
    if (host_header.starts_with('[')) {
        // IP-literal; IPvFuture and RFC 6874 zone identifiers are refused: no tenant host can
        // be written with them.
        const auto close = host_header.find(']');
        if (close == std::string_view::npos || !is_ipv6_address(host_header.substr(1, close - 1)))
            return false;
        host = host_header.substr(0, close + 1);
        const auto rest = host_header.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return false;
            has_port = true;
            port = rest.substr(1);
        }
    } else {
        // Neither reg-name nor IPv4address contains ':', so the first one starts the port.
        const auto colon = host_header.find(':');
        host = host_header.substr(0, colon);
        if (colon != std::string_view::npos) {
            has_port = true;
            port = host_header.substr(colon + 1);
        }
        for (const char c : host) {
            if (!is_reg_name_char(c)) return false;
        }
        // An absolute DNS name ("erp.acme.com.") is the same host (RFC 1034 §3.1).
        if (host.ends_with('.')) host.remove_suffix(1);
    }
    if (host.empty() || (has_port && !is_valid_port(port))) return false;
    out.resize(host.size());
    for (std::size_t i = 0; i < host.size(); ++i) out[i] = to_lower(host[i]);
    return true;
}

}  // namespace tg::routing
