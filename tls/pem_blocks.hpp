#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tg::tls {

/// One "-----BEGIN <name>-----" block of a PEM file, base64-decoded.
struct PemBlock {
    std::string name;        ///< "CERTIFICATE", "PRIVATE KEY", "EC PARAMETERS", ...
    bool encrypted = false;  ///< legacy "Proc-Type: 4,ENCRYPTED" header
    std::string der;
};

/// Every block of `text`, in order; `error` set (and the blocks read so far returned) when a
/// block is malformed. Text outside blocks is ignored, as OpenSSL does.
std::vector<PemBlock> read_pem_blocks(std::string_view text, std::string& error);

}  // namespace tg::tls
