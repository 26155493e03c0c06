#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <vector>

#include "proxy/io.hpp"

namespace tg::proxy {

/// The buffers a client connection needs only while a request is under way: the read buffer
/// of its header block and the text of the outgoing header. An idle keep-alive connection
/// gives them back and holds neither (they were 5 of its 11 KiB); the worker keeps a few pairs
/// spare, so a keep-alive request allocates nothing and 10,000 idle connections hold nothing.
class ExchangeBuffers {
  public:
    /// A buffer grown past this by a large header block is freed rather than kept spare.
    static constexpr std::size_t max_kept_capacity = 16 * 1024;

    ExchangeBuffers() { spares_.reserve(max_spares_); }

    /// Gives a spare pair to a connection whose buffers are empty (capacity 0); none: they
    /// stay empty and grow when used.
    void take(beast::flat_buffer& read, std::string& header_text) {
        assert(read.capacity() == 0);
        if (spares_.empty()) return;
        read = std::move(spares_.back().read);
        header_text = std::move(spares_.back().header_text);
        spares_.pop_back();
    }

    /// Takes back the buffers of a connection going idle, whose read buffer holds no byte;
    /// they are left empty (capacity 0). Beyond the spares kept, their memory is freed.
    void give_back(beast::flat_buffer& read, std::string& header_text) {
        assert(read.size() == 0);
        if (spares_.size() < max_spares_ && read.capacity() <= max_kept_capacity &&
            header_text.capacity() <= max_kept_capacity)
            spares_.push_back({std::exchange(read, {}), std::exchange(header_text, {})});
        else {
            read = {};
            header_text = {};
        }
    }

  private:
    struct Spare {
        beast::flat_buffer read;
        std::string header_text;
    };
    /// As many as the relay buffers kept: the requests a worker has under way at once.
    static constexpr std::size_t max_spares_ = 64;
    std::vector<Spare> spares_;
};

}  // namespace tg::proxy
