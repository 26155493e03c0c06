#include "tls/file_bytes.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace tg::tls {

FileBytes read_file_bytes(const std::string& path, std::size_t limit) {
    FileBytes result;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        result.error = errno;
        return result;
    }
    char buffer[16 * 1024];
    for (;;) {
        const ssize_t got = ::read(fd, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            result.error = errno;
            break;
        }
        if (got == 0) break;
        result.data.append(buffer, static_cast<std::size_t>(got));
        if (result.data.size() > limit) {
            result.error = EFBIG;
            break;
        }
    }
    ::close(fd);
    if (result.error != 0) result.data.clear();
    return result;
}

}  // namespace tg::tls
