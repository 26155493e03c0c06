#include "tls/pem_blocks.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>

#include "tls/openssl_error.hpp"
#include "tls/openssl_ptr.hpp"

namespace tg::tls {

std::vector<PemBlock> read_pem_blocks(std::string_view text, std::string& error) {
    std::vector<PemBlock> blocks;
    BioPtr in(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    for (;;) {
        char* name = nullptr;
        char* header = nullptr;
        unsigned char* data = nullptr;
        long length = 0;
        ERR_clear_error();
        if (PEM_read_bio(in.get(), &name, &header, &data, &length) != 1) {
            const unsigned long last = ERR_peek_last_error();
            const bool end =
                ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
            if (!end)
                error = "PEM block " + std::to_string(blocks.size() + 1) +
                        " is malformed: " + take_openssl_errors();
            ERR_clear_error();
            return blocks;
        }
        PemBlock block;
        block.name = name;
        block.encrypted = std::string_view(header).find("ENCRYPTED") != std::string_view::npos;
        block.der.assign(reinterpret_cast<const char*>(data), static_cast<std::size_t>(length));
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        blocks.push_back(std::move(block));
    }
}

}  // namespace tg::tls
