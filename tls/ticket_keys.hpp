#pragma once

#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <shared_mutex>

/// Session-ticket keys for the whole process (RFC 5077, RFC 8446 §4.6.1): every listener, every
/// worker thread and every reloaded store seals and opens tickets with the same rotating keys,
/// so a reload does not cost every client a full handshake.
namespace tg::tls {

/// One ticket key: a name sent in clear in the ticket, an AES-256-CBC key, an HMAC-SHA256 key.
struct TicketKey {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aes_key{};
    std::array<unsigned char, 32> hmac_key{};
    std::chrono::system_clock::time_point created{};

    TicketKey() = default;
    TicketKey(const TicketKey&) = default;
    TicketKey& operator=(const TicketKey&) = default;
    /// Wipes the secrets: a core dump after rotation must not hold old keys.
    ~TicketKey();
};

/// The keys in force: tickets are sealed with `current` and opened with either, so a ticket
/// stays usable for at least one rotation interval after it was issued.
struct TicketKeySet {
    TicketKey current;
    std::optional<TicketKey> previous;
};

/// Thread-safe: handshakes on any worker read the keys while the control thread rotates them.
class TicketKeys {
  public:
    using time_point = std::chrono::system_clock::time_point;

    /// Draws the first key (from OpenSSL's CSPRNG); throws std::runtime_error if it cannot,
    /// which only happens at start-up.
    explicit TicketKeys(time_point now,
                        std::chrono::seconds rotation_interval = std::chrono::hours(12));
    TicketKeys(const TicketKeys&) = delete;
    TicketKeys& operator=(const TicketKeys&) = delete;

    /// Starts a new current key once the current one is `rotation_interval` old, keeping the
    /// old one for opening tickets; true when it rotated. The caller supplies the time (the
    /// proxy polls this from a timer), so tests decide when rotation happens.
    bool rotate_if_due(time_point now);
    /// When rotate_if_due will next rotate.
    time_point next_rotation() const;
    /// The keys in force now (a snapshot: later rotations do not change it).
    std::shared_ptr<const TicketKeySet> keys() const;

  private:
    std::chrono::seconds interval_;
    // A shared lock held only to copy a pointer. Not std::atomic<std::shared_ptr>: libstdc++ 12
    // unlocks its load() with relaxed order, a data race ThreadSanitizer reports (fixed in 13).
    mutable std::shared_mutex mutex_;
    std::shared_ptr<const TicketKeySet> keys_;
};

/// Makes `context` seal and open session tickets with `keys` (instead of the random key every
/// SSL_CTX draws for itself) and keeps `keys` alive as long as the context; false when OpenSSL
/// is out of memory.
bool use_ticket_keys(SSL_CTX* context, std::shared_ptr<TicketKeys> keys);

}  // namespace tg::tls
