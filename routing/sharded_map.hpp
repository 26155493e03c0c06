#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace tg::routing {

/// An unordered map from string to V whose copies share all the shards a change did not touch,
/// for the request path's host lookup.
///
/// Why: the host table holds an entry per tenant host (20,000 tenants and more). Copying one
/// std::unordered_map to add a tenant costs all of it; here the entries are spread over 256
/// shards held by shared_ptr, a copy shares every shard, and a change copies only the shard it
/// touches: about 1/256 of the table.
///
/// Cost: a lookup hashes the key once, picks the shard from the hash's high bits and probes the
/// shard with the same hash: one hash and O(1), plus one pointer hop to the shard. A copy is 256
/// shared_ptr copies (refcount increments); a change copies ~size/256 entries. Each entry
/// stores its hash beside its key. An empty shard is a null pointer and allocates nothing.
///
/// Threads: a shard is never changed once published, so const calls, and copies used on
/// different threads, are safe; a non-const call must not overlap any other call on the same
/// object.
template <class V>
class ShardedMap {
  public:
    static constexpr std::size_t shard_count = 256;

    /// An empty map; allocates no shard.
    ShardedMap() = default;
    /// 256 shared_ptr copies: shares every shard.
    ShardedMap(const ShardedMap&) = default;
    /// 256 shared_ptr copies; the shards only `this` held are freed.
    ShardedMap& operator=(const ShardedMap&) = default;
    /// Leaves `other` empty.
    ShardedMap(ShardedMap&& other) noexcept
        : shards_(std::move(other.shards_)), size_(std::exchange(other.size_, 0)) {}
    /// Leaves `other` empty.
    ShardedMap& operator=(ShardedMap&& other) noexcept {
        shards_ = std::move(other.shards_);
        size_ = std::exchange(other.size_, 0);
        return *this;
    }
    ~ShardedMap() = default;

    /// The value for `key`, or null; valid until this map changes (or longer, in a copy that
    /// shares the shard).
    [[nodiscard]] const V* find(std::string_view key) const {
        const std::size_t hash = hash_of(key);
        const Shard* shard = shards_[shard_of(hash)].get();
        if (shard == nullptr) return nullptr;
        const auto found = shard->find(Probe{hash, key});
        return found == shard->end() ? nullptr : &found->second;
    }

    /// Sets `key` to `value`; true when the key is new. Copies the one shard it lands in when
    /// a copy of this map shares it (which must not see the change).
    bool insert_or_assign(std::string key, V value) {
        const std::size_t hash = hash_of(key);
        Shard& shard = writable(shards_[shard_of(hash)]);
        const bool added =
            shard.insert_or_assign(Key{hash, std::move(key)}, std::move(value)).second;
        size_ += added ? 1 : 0;
        return added;
    }

    /// Removes `key`; false (and nothing copied) when absent. Copies the one shard it is in
    /// when a copy of this map shares it.
    bool erase(std::string_view key) {
        const std::size_t hash = hash_of(key);
        std::shared_ptr<Shard>& slot = shards_[shard_of(hash)];
        if (!slot || !slot->contains(Probe{hash, key})) return false;
        if (slot->size() == 1) {
            slot.reset();  // keeps "empty shard = null pointer"
        } else {
            Shard& shard = writable(slot);
            shard.erase(shard.find(Probe{hash, key}));
        }
        --size_;
        return true;
    }

    /// Number of entries, O(1).
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    /// No entries.
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

    /// How many shards this map and `other` hold as the very same object (both empty counts):
    /// shows that a change copied only what it touched.
    [[nodiscard]] std::size_t shards_shared_with(const ShardedMap& other) const noexcept {
        std::size_t shared = 0;
        for (std::size_t i = 0; i < shard_count; ++i) {
            shared += shards_[i] == other.shards_[i] ? 1 : 0;
        }
        return shared;
    }

  private:
    /// A stored key with its hash, so that a probe is not hashed again and a rehash of the
    /// shard reads the hash instead of computing it.
    struct Key {
        std::size_t hash;
        std::string text;
    };
    /// What a lookup builds: the hash already computed and a view of the key, no copy.
    struct Probe {
        std::size_t hash;
        std::string_view text;
    };
    /// Returns the stored hash. is_transparent lets find() take a Probe (C++20
    /// heterogeneous lookup, P0919R3), which needs both the hasher and the equality to opt in.
    struct StoredHash {
        using is_transparent = void;
        std::size_t operator()(const Key& key) const noexcept { return key.hash; }
        std::size_t operator()(const Probe& probe) const noexcept { return probe.hash; }
    };
    /// Compares the hashes first: keys that merely share a bucket differ there, cheaply.
    struct SameText {
        using is_transparent = void;
        bool operator()(const Key& a, const Key& b) const noexcept { return same(a, b); }
        bool operator()(const Key& a, const Probe& b) const noexcept { return same(a, b); }
        bool operator()(const Probe& a, const Key& b) const noexcept { return same(a, b); }

        template <class A, class B>
        static bool same(const A& a, const B& b) noexcept {
            return a.hash == b.hash && std::string_view(a.text) == std::string_view(b.text);
        }
    };
    using Shard = std::unordered_map<Key, V, StoredHash, SameText>;

    static_assert(std::has_single_bit(shard_count), "shard_of takes whole high bits");
    static constexpr int shard_bits = std::countr_zero(shard_count);

    static std::size_t hash_of(std::string_view key) noexcept {
        return std::hash<std::string_view>{}(key);
    }
    /// The high bits. All keys of a shard share them, and still spread over the shard's
    /// buckets, which are chosen from the whole hash (modulo a prime bucket count).
    static std::size_t shard_of(std::size_t hash) noexcept {
        return hash >> (std::numeric_limits<std::size_t>::digits - shard_bits);
    }

    /// The shard in `slot`, made this map's own first unless it already is. A use count of 1
    /// means no copy holds it, and a copy is the only way another thread reaches it (a
    /// non-const call must not overlap any other call on this object): a table being built,
    /// or a shard already copied for this change, is written in place.
    static Shard& writable(std::shared_ptr<Shard>& slot) {
        if (!slot)
            slot = std::make_shared<Shard>();
        else if (slot.use_count() != 1)
            slot = std::make_shared<Shard>(*slot);
        return *slot;
    }

    /// Null = empty shard. Not const, for writable(); a shard a copy shares is never written.
    std::array<std::shared_ptr<Shard>, shard_count> shards_;
    std::size_t size_ = 0;  ///< kept, so size() is O(1)
};

}  // namespace tg::routing
