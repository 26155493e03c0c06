#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "config/net.hpp"
#include "routing/rate_limit.hpp"

/// Rate-limit buckets for keys that clients choose (a client IP, a template tenant's host
/// label): a fixed number of slots allocated once, so a million distinct clients cost the same
/// memory as a thousand, and a lookup probes a bounded window whatever the load.
namespace tg::routing {

/// Buckets and in-flight counts by 64-bit key, shared by the workers. A slot is free again once
/// its bucket is full (TAT <= now) and nothing is in flight: an expired client costs nothing,
/// and a new key starts with a full bucket, exactly as if it had been kept. When a key's probe
/// window has no free slot, the bucket closest to full is evicted (its owner starts again from
/// a full bucket, the most it could lose). Slots are split into shards, each behind its own
/// mutex; a shard is held only for a few loads and stores, never across I/O.
class BucketTable {
  public:
    /// 2^`slots_log2` slots of 24 bytes. Memory is zero-filled on demand by the kernel, so
    /// untouched slots cost no resident memory.
    explicit BucketTable(unsigned slots_log2);
    ~BucketTable();
    BucketTable(const BucketTable&) = delete;
    BucketTable& operator=(const BucketTable&) = delete;

    /// One GCRA step of `increment` against `key`'s bucket at `now` (see gcra_step).
    GcraStep admit(std::uint64_t key, std::chrono::nanoseconds now,
                   std::chrono::nanoseconds increment, std::chrono::nanoseconds capacity);
    /// Gives back what an admitted request of `increment` charged, when a later check refuses
    /// the request after all.
    void refund(std::uint64_t key, std::chrono::nanoseconds increment);
    /// Counts one more request in flight for `key` unless `limit` are; false when full. A
    /// window whose slots are all in flight cannot track `key`: admitted untracked (nullopt).
    std::optional<bool> enter(std::uint64_t key, std::chrono::nanoseconds now, std::uint32_t limit);
    /// Ends a request counted by `enter`.
    void leave(std::uint64_t key);

    /// Slots whose bucket is not yet full again or with requests in flight, at `now`.
    [[nodiscard]] std::size_t live(std::chrono::nanoseconds now) const;
    [[nodiscard]] std::size_t capacity() const { return std::size_t{1} << slots_log2_; }

    /// A key probes this many consecutive slots of its shard.
    static constexpr std::size_t probe_window = 8;
    static constexpr unsigned shard_bits = 8;

  private:
    struct Slot {
        std::uint64_t key;  ///< 0: never used
        std::int64_t tat_ns;
        std::uint32_t in_flight;
    };
    struct alignas(64) Shard {
        mutable std::mutex mutex;
    };
    struct Free {
        void operator()(Slot* slots) const;
    };

    /// The slot holding `key` in its window, or the one to take for it (null: none can be).
    /// The caller holds the shard's mutex.
    Slot* find(std::uint64_t key, std::int64_t now_ns);
    Slot* find_existing(std::uint64_t key);
    Shard& shard_of(std::uint64_t key) { return shards_[key >> (64 - shard_bits)]; }

    unsigned slots_log2_;
    std::unique_ptr<Slot[], Free> slots_;
    std::unique_ptr<Shard[]> shards_;
};

/// A per-process keyed hash of a tenant name and an optional client address, for BucketTable
/// keys: the seed is random, so a client cannot choose addresses that crowd another's window.
class BucketKeys {
  public:
    explicit BucketKeys(std::uint64_t seed) : seed_(seed) {}
    /// Never 0 (the empty slot's key).
    [[nodiscard]] std::uint64_t tenant(std::string_view tenant) const;
    [[nodiscard]] std::uint64_t client(std::string_view tenant_name,
                                       const config::IpAddress& address) const;

  private:
    std::uint64_t seed_;
};

}  // namespace tg::routing
