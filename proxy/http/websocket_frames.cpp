#include "proxy/http/websocket_frames.hpp"

#include <algorithm>

namespace tg::proxy {

std::size_t WebSocketFrameTracker::header_length() const noexcept {
    const unsigned length7 = header_[1] & 0x7f;
    const bool masked = (header_[1] & 0x80) != 0;
    const std::size_t extended = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
    return 2 + extended + (masked ? 4 : 0);
}

void WebSocketFrameTracker::finish_header() {
    const unsigned length7 = header_[1] & 0x7f;
    std::uint64_t length = length7;
    if (length7 >= 126) {
        const std::size_t bytes = length7 == 126 ? 2 : 8;
        length = 0;
        for (std::size_t i = 0; i < bytes; ++i) length = (length << 8) | header_[2 + i];
        // RFC 6455 §5.2: the most significant bit of a 64-bit length must be 0.
        if (bytes == 8 && (length >> 63) != 0) failed_ = true;
    }
    payload_left_ = length;
    header_size_ = 0;
}

std::size_t WebSocketFrameTracker::feed(std::span<const char> bytes, bool stop_at_boundary) {
    std::size_t taken = 0;
    while (taken < bytes.size() && !failed_) {
        if (stop_at_boundary && at_boundary()) break;
        if (payload_left_ > 0) {
            const std::uint64_t step = std::min<std::uint64_t>(payload_left_, bytes.size() - taken);
            payload_left_ -= step;
            taken += static_cast<std::size_t>(step);
            continue;
        }
        header_[header_size_++] = static_cast<unsigned char>(bytes[taken++]);
        if (header_size_ >= 2 && header_size_ == header_length()) finish_header();
    }
    if (failed_ && !stop_at_boundary) return bytes.size();
    return taken;
}

std::string websocket_close_frame(std::uint16_t code, std::string_view reason) {
    reason = reason.substr(0, 123);
    std::string frame;
    frame.reserve(4 + reason.size());
    frame.push_back(static_cast<char>(0x88));  // FIN + opcode 8 (close)
    frame.push_back(static_cast<char>(2 + reason.size()));
    frame.push_back(static_cast<char>(code >> 8));
    frame.push_back(static_cast<char>(code & 0xff));
    frame.append(reason);
    return frame;
}

}  // namespace tg::proxy
