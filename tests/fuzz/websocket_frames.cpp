// WebSocket frame boundary tracker (proxy/http/websocket_frames.*), fed as TunnelPump feeds it:
// the upstream's bytes read by read, all taken while the tunnel runs, then, once a release
// closes the tunnel, only up to the next frame boundary. Checked against the frame boundaries
// of RFC 6455 §5.2 computed here over the whole stream.
#include <cstdint>
#include <set>
#include <span>

#include "fuzz_check.hpp"
#include "proxy/http/websocket_frames.hpp"

namespace {

/// Offsets in `stream` at which a frame ends (0 included); stops at a 64-bit length with its
/// top bit set (`*broken` then says where that header ends) or at a frame cut short.
std::set<std::uint64_t> frame_boundaries(std::span<const std::uint8_t> stream,
                                         std::uint64_t* broken) {
    std::set<std::uint64_t> boundaries{0};
    std::uint64_t at = 0;
    *broken = UINT64_MAX;
    while (at + 2 <= stream.size()) {
        const unsigned length7 = stream[at + 1] & 0x7f;
        const std::uint64_t extended = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
        const std::uint64_t header = 2 + extended + ((stream[at + 1] & 0x80) ? 4 : 0);
        if (at + header > stream.size()) break;
        std::uint64_t payload = length7;
        if (extended != 0) {
            payload = 0;
            for (std::uint64_t i = 0; i < extended; ++i)
                payload = payload << 8 | stream[at + 2 + i];
        }
        if (extended == 8 && (payload >> 63) != 0) {
            *broken = at + header;
            break;
        }
        if (payload > stream.size() - at - header) break;
        at += header + payload;
        boundaries.insert(at);
    }
    return boundaries;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    // Byte 0: the read size pattern; byte 1: after how many reads the release closes the tunnel.
    const std::size_t read_seed = data[0];
    const std::size_t close_after = data[1];
    const std::span<const std::uint8_t> stream(data + 2, size - 2);
    std::uint64_t broken = 0;
    const auto boundaries = frame_boundaries(stream, &broken);

    tg::proxy::WebSocketFrameTracker tracker;
    std::uint64_t fed = 0;  // bytes passed on to the client
    std::size_t reads = 0;
    while (fed < stream.size()) {
        const std::size_t want = 1 + (read_seed * (reads + 1) * 7919) % 509;
        const std::size_t n = std::min<std::size_t>(want, stream.size() - fed);
        const bool closing = reads++ >= close_after;
        const auto* piece = reinterpret_cast<const char*>(stream.data() + fed);
        const std::size_t taken = tracker.feed({piece, n}, closing);
        FUZZ_CHECK(taken <= n);  // never beyond the bytes fed
        if (!closing) FUZZ_CHECK(taken == n);
        fed += taken;
        FUZZ_CHECK(tracker.failed() == (broken != UINT64_MAX && fed >= broken));
        if (!tracker.failed()) FUZZ_CHECK(tracker.at_boundary() == boundaries.contains(fed));
        if (closing) {
            // Stops exactly at the first boundary at or after where it started, never past one.
            const auto next = boundaries.lower_bound(fed - taken);
            if (tracker.failed()) {
                FUZZ_CHECK(next == boundaries.end() || *next > fed);
            } else if (next != boundaries.end() && *next <= fed - taken + n) {
                FUZZ_CHECK(fed == *next && tracker.at_boundary());
            } else {
                FUZZ_CHECK(taken == n);
            }
            if (taken < n || tracker.failed()) break;  // the pump sends its close frame now
        }
    }
    return 0;
}
