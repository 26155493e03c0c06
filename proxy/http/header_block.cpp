#include "proxy/http/header_block.hpp"

#include <cstring>

namespace tg::proxy {

std::size_t header_block_length(std::string_view data) {
    const auto end = data.find("\r\n\r\n");
    if (end != std::string_view::npos) return end + 4;
    // A bare-LF terminator never completes a block: header_block_is_strict refuses it as soon
    // as it arrives.
    return 0;
}

bool header_block_is_strict(std::string_view block, std::size_t from) {
    if (from >= block.size()) return true;
    if (std::memchr(block.data() + from, '\0', block.size() - from)) return false;
    for (std::size_t i = from; i < block.size(); ++i) {
        if (block[i] != '\n') continue;
        if (i == 0 || block[i - 1] != '\r') return false;
        const std::size_t next = i + 1;
        if (next < block.size() && (block[next] == ' ' || block[next] == '\t')) return false;
    }
    return true;
}

}  // namespace tg::proxy
