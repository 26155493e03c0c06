#include "routing/request_id.hpp"

#include <cstddef>

namespace tg::routing {
namespace {

bool is_request_id_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
}

void write_hex(std::uint64_t value, char* out) {
    constexpr char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i) {
        out[i] = digits[value & 0xf];
        value >>= 4;
    }
}

}  // namespace

bool is_valid_request_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > 128) return false;
    for (const char c : id) {
        if (!is_request_id_char(c)) return false;
    }
    return true;
}

void make_request_id(std::uint64_t random_hi, std::uint64_t random_lo, std::string& out) {
    out.resize(32);
    write_hex(random_hi, out.data());
    write_hex(random_lo, out.data() + 16);
}

}  // namespace tg::routing
