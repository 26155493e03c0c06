#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>
#include <variant>

#include "proxy/buffer_pool.hpp"
#include "proxy/connection_slot.hpp"
#include "proxy/http/direct_write.hpp"
#include "proxy/http/websocket_frames.hpp"
#include "proxy/io.hpp"
#include "proxy/readiness.hpp"

namespace tg::proxy {

/// A plain socket is read into a buffer borrowed only once it has bytes; a TLS stream may
/// already hold decrypted bytes that the socket's readiness would never announce, so it keeps a
/// read pending into its own small buffer.
template <class Stream>
inline constexpr bool borrows_when_ready = std::is_same_v<Stream, tcp::socket>;

/// Moves a tunnel's bytes (an upgraded WebSocket connection) both ways until either side
/// closes or fails, or the connection slot cancels the I/O (idle timeout, drain). Each
/// direction is a chain of completion handlers, not a coroutine: an idle tunnel costs two
/// pending operations instead of two coroutine stacks and the parallel group joining them,
/// and an Odoo cluster keeps thousands of them open. A plain socket's read borrows a relay
/// buffer only once the socket has bytes (proxy/readiness.hpp), so an idle plain tunnel holds
/// none; a TLS client is read into the pump's own 4 KiB.
///
/// The upstream's frames are followed as they pass, so that a release drain (SPEC §5) can end
/// the tunnel between two of them: the session then sends the client a close frame that the
/// client's WebSocket library can read, not a frame cut in half.
template <class Client>
class TunnelPump {
  public:
    TunnelPump(const Reactor& reactor, Client& client, tcp::socket& upstream, BufferPool& buffers,
               ConnectionSlot& slot, Clock::duration idle_timeout, std::uint64_t& to_upstream,
               std::uint64_t& to_client)
        : reactor_(reactor),
          client_(client),
          upstream_(upstream),
          buffers_(buffers),
          slot_(slot),
          idle_timeout_(idle_timeout),
          to_upstream_(to_upstream),
          to_client_(to_client) {
        slot_.on_release_close(&TunnelPump::release_close, this);
    }
    ~TunnelPump() { slot_.on_release_close(nullptr, nullptr); }

    TunnelPump(const TunnelPump&) = delete;
    TunnelPump& operator=(const TunnelPump&) = delete;

    /// Upstream bytes the session wrote to the client before the pump started.
    void sent_to_client(std::span<const char> bytes) { frames_.feed(bytes, false); }

    /// Whether the pump stopped for a release at a frame boundary of the upstream's stream, so
    /// that a close frame may follow.
    bool stopped_at_boundary() const { return stopped_at_boundary_; }

    /// How long a release waits for the upstream's current frame to end before it cuts.
    static constexpr Clock::duration boundary_wait = std::chrono::seconds(1);

    /// Starts both directions. Returns what to co_await: it completes once both have stopped,
    /// and the pump may then go.
    auto run() {
        running_ = 2;
        read(client_, upstream_, to_upstream_);
        read(upstream_, client_, to_client_);
        return stopped_.async_wait(use_nothrow);
    }

  private:
    template <class From>
    bool from_upstream(const From& from) const {
        return static_cast<const void*>(&from) == static_cast<const void*>(&upstream_);
    }

    static void release_close(void* self) { static_cast<TunnelPump*>(self)->close_at_boundary(); }

    /// A release drain reached its deadline: stop once the upstream's stream is between frames.
    /// Between frames with no write to the client under way, that is now; otherwise the write's
    /// completion or the rest of the frame decides. The slot's deadline bounds the wait.
    void close_at_boundary() {
        if (stopping_ || closing_) return;
        closing_ = true;
        slot_.arm(Clock::now(), boundary_wait);
        if (!writing_to_client_ && frames_.at_boundary()) {
            stopped_at_boundary_ = true;
            error_code ignored;
            upstream_.cancel(ignored);
        }
    }

    template <class From, class To>
    void read(From& from, To& to, std::uint64_t& moved) {
        if (stopping_) return stop();  // a completion that raced with the other side's end
        if (closing_ && from_upstream(from)) {
            if (frames_.at_boundary()) {
                stopped_at_boundary_ = true;
                return stop();
            }
        }
        if constexpr (borrows_when_ready<From>) {
            auto& lease = from_upstream(from) ? upstream_lease_ : client_lease_;
            async_read_drained(
                reactor_, from, LeaseTarget{&buffers_, &lease},
                [this, &from, &to, &moved, &lease](const error_code& ec, std::size_t n) {
                    if (ec) {
                        lease.reset();
                        return stop();
                    }
                    BufferPool::Lease held = std::move(*lease);
                    lease.reset();
                    const auto space = held.span();
                    write(from, to, moved,
                          asio::buffer(space.data(), taken_of(from, space.data(), n)),
                          std::move(held));
                });
        } else {
            from.async_read_some(
                asio::buffer(tls_input_),
                [this, &from, &to, &moved](const error_code& ec, std::size_t n) {
                    if (ec) return stop();
                    write(from, to, moved,
                          asio::buffer(tls_input_.data(), taken_of(from, tls_input_.data(), n)),
                          std::monostate{});
                });
        }
    }

    /// A plain side's read lands in a relay buffer borrowed when the socket has bytes (a
    /// ReadTarget), held in `lease` until the read completes.
    struct LeaseTarget {
        BufferPool* buffers;
        std::optional<BufferPool::Lease>* lease;
        asio::mutable_buffer prepare() const {
            const auto space = lease->emplace(buffers->borrow()).span();
            return {space.data(), space.size()};
        }
        void found_nothing() const { lease->reset(); }
    };

    /// How many of `n` bytes read from `from` go on: all of them, except that a closing tunnel
    /// passes the upstream's bytes only up to the end of the current frame.
    template <class From>
    std::size_t taken_of(const From& from, const char* data, std::size_t n) {
        if (!from_upstream(from)) return n;
        writing_to_client_ = true;
        return frames_.feed({data, n}, closing_);
    }

    /// Writes `bytes`, which `holder` keeps alive (a borrowed buffer, or nothing for tls_input_)
    /// until they are written.
    template <class From, class To, class Holder>
    void write(From& from, To& to, std::uint64_t& moved, asio::const_buffer bytes, Holder holder) {
        if (!closing_) slot_.arm(Clock::now(), idle_timeout_);
        const std::size_t n = bytes.size();
        std::size_t written = 0;
        if constexpr (writes_directly<To>) {
            error_code ec;
            written = asio::write(to, bytes, ec);
            if (!ec) return wrote(from, to, moved, n);
            if (ec != asio::error::would_block || reactor_access::register_for_waits(to))
                return stop();
        }
        asio::async_write(to, bytes + written,
                          [this, &from, &to, &moved, n, holder = std::move(holder)](
                              const error_code& ec, std::size_t) mutable {
                              if (ec) return stop();
                              wrote(from, to, moved, n);
                          });
    }

    template <class From, class To>
    void wrote(From& from, To& to, std::uint64_t& moved, std::size_t n) {
        moved += n;
        if (from_upstream(from)) writing_to_client_ = false;
        read(from, to, moved);
    }

    /// One direction has ended: the other is cancelled, and the last one out ends the wait on
    /// `stopped_` (its completion is posted: nothing of the pump is touched after that).
    void stop() {
        if (!stopping_) {
            stopping_ = true;
            error_code ignored;
            client_.lowest_layer().cancel(ignored);
            upstream_.cancel(ignored);
        }
        if (--running_ == 0) stopped_.cancel();
    }

    const Reactor& reactor_;
    Client& client_;
    tcp::socket& upstream_;
    BufferPool& buffers_;
    std::optional<BufferPool::Lease> client_lease_;    ///< a plain client's read, while it runs
    std::optional<BufferPool::Lease> upstream_lease_;  ///< the upstream's read, while it runs
    ConnectionSlot& slot_;
    Clock::duration idle_timeout_;
    std::uint64_t& to_upstream_;
    std::uint64_t& to_client_;
    int running_ = 0;
    bool stopping_ = false;
    bool closing_ = false;
    bool writing_to_client_ = false;
    bool stopped_at_boundary_ = false;
    WebSocketFrameTracker frames_;
    asio::steady_timer stopped_{upstream_.get_executor(), Clock::time_point::max()};
    /// Where a TLS client's bytes are read: a TLS stream cannot wait for readability without
    /// reading (it may hold decrypted bytes the socket never announces), so an idle TLS tunnel
    /// keeps a read pending into this, not into a borrowed 64 KiB relay buffer. WebSocket
    /// messages of an Odoo bus are small; a large one takes a few reads.
    using TlsInput = std::array<char, 4096>;
    [[no_unique_address]] std::conditional_t<borrows_when_ready<Client>, std::monostate, TlsInput>
        tls_input_;
};

}  // namespace tg::proxy
