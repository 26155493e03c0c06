#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

/// Where the frames of a WebSocket byte stream end (RFC 6455 §5.2), so that a release can put
/// a close frame between two of the upstream's frames instead of inside one.
namespace tg::proxy {

/// Follows frame headers and payload lengths without buffering or unmasking anything.
class WebSocketFrameTracker {
  public:
    /// Takes the next bytes of the stream. With `stop_at_boundary`, consumption stops at the
    /// first frame boundary within `bytes` (0 when the stream is already at one); otherwise all
    /// of `bytes` is taken. Returns how many bytes were taken.
    std::size_t feed(std::span<const char> bytes, bool stop_at_boundary);

    /// True between frames: no header byte or payload byte of a frame is pending.
    [[nodiscard]] bool at_boundary() const noexcept {
        return !failed_ && header_size_ == 0 && payload_left_ == 0;
    }
    /// The stream is not WebSocket framing (a 64-bit length with its top bit set): it never
    /// reaches a boundary again.
    [[nodiscard]] bool failed() const noexcept { return failed_; }

  private:
    /// Bytes of the frame header seen so far (2 to 14 in all).
    unsigned char header_[14] = {};
    std::size_t header_size_ = 0;
    std::uint64_t payload_left_ = 0;
    bool failed_ = false;

    /// The full header length once its first two bytes are known.
    [[nodiscard]] std::size_t header_length() const noexcept;
    void finish_header();
};

/// An unmasked close frame (server to client, RFC 6455 §5.5.1) with `code` and `reason`
/// (truncated to fit the 125-byte control frame payload).
[[nodiscard]] std::string websocket_close_frame(std::uint16_t code, std::string_view reason);

}  // namespace tg::proxy
