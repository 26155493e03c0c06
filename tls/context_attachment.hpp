#pragma once

#include <openssl/ssl.h>

#include <memory>

namespace tg::tls {

/// Ties a shared object to an SSL_CTX through OpenSSL's ex_data: the context holds one reference
/// and OpenSSL drops it when the context's last reference goes. Every SSL holds a reference to
/// the context it was created from, so a callback running for a connection can always reach the
/// object, however long the connection outlives the store that built the context.
template <class T>
class ContextAttachment {
  public:
    /// Makes `context` hold `value` (replacing what it held); false when OpenSSL is out of memory.
    static bool attach(SSL_CTX* context, std::shared_ptr<T> value) {
        auto holder = std::make_unique<std::shared_ptr<T>>(std::move(value));
        auto* previous = static_cast<std::shared_ptr<T>*>(SSL_CTX_get_ex_data(context, index()));
        if (SSL_CTX_set_ex_data(context, index(), holder.get()) != 1) return false;
        holder.release();
        delete previous;
        return true;
    }

    /// The object `context` holds, or null.
    static T* get(const SSL_CTX* context) {
        const auto* holder =
            static_cast<const std::shared_ptr<T>*>(SSL_CTX_get_ex_data(context, index()));
        return holder ? holder->get() : nullptr;
    }

  private:
    // Never index 0: Asio's ssl::context keeps its verify callback there (SSL_CTX_get_app_data)
    // and deletes whatever it finds when it is destroyed.
    static int index() {
        static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, &release);
        return index;
    }

    static void release(void*, void* holder, CRYPTO_EX_DATA*, int, long, void*) {
        delete static_cast<std::shared_ptr<T>*>(holder);
    }
};

}  // namespace tg::tls
