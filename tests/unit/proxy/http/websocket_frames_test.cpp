#include "proxy/http/websocket_frames.hpp"

#include <catch2/catch.hpp>
#include <string>

using tg::proxy::websocket_close_frame;
using tg::proxy::WebSocketFrameTracker;

namespace {

/// An unmasked text frame with `payload_size` bytes of 'x', with the shortest length form.
std::string text_frame(std::size_t payload_size) {
    std::string frame(1, static_cast<char>(0x81));
    if (payload_size < 126) {
        frame.push_back(static_cast<char>(payload_size));
    } else if (payload_size <= 0xffff) {
        frame.push_back(static_cast<char>(126));
        frame.push_back(static_cast<char>(payload_size >> 8));
        frame.push_back(static_cast<char>(payload_size & 0xff));
    } else {
        frame.push_back(static_cast<char>(127));
        for (int shift = 56; shift >= 0; shift -= 8)
            frame.push_back(
                static_cast<char>((static_cast<std::uint64_t>(payload_size) >> shift) & 0xff));
    }
    return frame + std::string(payload_size, 'x');
}

std::span<const char> span_of(const std::string& s) {
    return {s.data(), s.size()};
}

}  // namespace

TEST_CASE("the tracker finds frame boundaries of every length form", "[proxy][websocket]") {
    for (const std::size_t size : {0u, 5u, 125u, 126u, 300u, 65535u, 65536u, 70000u}) {
        WebSocketFrameTracker tracker;
        const std::string frame = text_frame(size);
        CHECK(tracker.at_boundary());
        CHECK(tracker.feed(span_of(frame), false) == frame.size());
        CHECK(tracker.at_boundary());
    }
}

TEST_CASE("the tracker follows frames split across reads byte by byte", "[proxy][websocket]") {
    WebSocketFrameTracker tracker;
    const std::string stream = text_frame(3) + text_frame(200) + text_frame(70000);
    std::size_t boundaries = 0;
    for (std::size_t i = 0; i < stream.size(); ++i) {
        REQUIRE(tracker.feed({stream.data() + i, 1}, false) == 1);
        if (tracker.at_boundary()) ++boundaries;
    }
    CHECK(boundaries == 3);
}

TEST_CASE("stop_at_boundary consumes up to the end of the current frame", "[proxy][websocket]") {
    WebSocketFrameTracker tracker;
    const std::string first = text_frame(10);
    const std::string stream = first + text_frame(4);
    // Mid-frame: take the first 3 bytes, then ask to stop at the next boundary.
    REQUIRE(tracker.feed({stream.data(), 3}, false) == 3);
    CHECK_FALSE(tracker.at_boundary());
    const std::size_t taken = tracker.feed({stream.data() + 3, stream.size() - 3}, true);
    CHECK(taken == first.size() - 3);
    CHECK(tracker.at_boundary());
    // At a boundary nothing more is taken.
    CHECK(tracker.feed({stream.data() + first.size(), 6}, true) == 0);
}

TEST_CASE("masked frames count the masking key in the header", "[proxy][websocket]") {
    WebSocketFrameTracker tracker;
    std::string frame{static_cast<char>(0x81), static_cast<char>(0x80 | 2), 1, 2, 3, 4, 'h', 'i'};
    REQUIRE(tracker.feed({frame.data(), 6}, false) == 6);
    CHECK_FALSE(tracker.at_boundary());
    REQUIRE(tracker.feed({frame.data() + 6, 2}, false) == 2);
    CHECK(tracker.at_boundary());
}

TEST_CASE("a 64-bit length with its top bit set is not WebSocket framing", "[proxy][websocket]") {
    WebSocketFrameTracker tracker;
    std::string frame{static_cast<char>(0x82),
                      static_cast<char>(127),
                      static_cast<char>(0x80),
                      0,
                      0,
                      0,
                      0,
                      0,
                      0,
                      1,
                      'a',
                      'b'};
    CHECK(tracker.feed(span_of(frame), false) == frame.size());
    CHECK(tracker.failed());
    CHECK_FALSE(tracker.at_boundary());
    CHECK(tracker.feed(span_of(frame), true) == 0);
}

TEST_CASE("a close frame carries the code and a bounded reason", "[proxy][websocket]") {
    const std::string frame = websocket_close_frame(1012, "service restart");
    REQUIRE(frame.size() == 4 + 15);
    CHECK(static_cast<unsigned char>(frame[0]) == 0x88);
    CHECK(frame[1] == 17);
    CHECK(static_cast<unsigned char>(frame[2]) == 0x03);
    CHECK(static_cast<unsigned char>(frame[3]) == 0xf4);
    CHECK(frame.substr(4) == "service restart");
    CHECK(websocket_close_frame(1000, std::string(300, 'r')).size() == 4 + 123);
    WebSocketFrameTracker tracker;
    CHECK(tracker.feed(span_of(frame), false) == frame.size());
    CHECK(tracker.at_boundary());
}
