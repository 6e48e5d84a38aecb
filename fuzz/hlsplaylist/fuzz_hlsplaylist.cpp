// Fuzzes the HLS playlist checker (it reads whatever a server sends during the soak benchmark):
// any bytes must give an answer without crashing, hanging or reading out of bounds, and a
// playlist it accepts must be consistent with itself on reload.
#include <media/hlsplaylist.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray bytes = QByteArray::fromRawData(reinterpret_cast<const char *>(data), qsizetype(size));
    const iptv::media::HlsCheck check = iptv::media::checkMediaPlaylist(bytes);
    if (check.ok != check.problems.isEmpty())
        std::abort();
    if (check.ok && !iptv::media::checkReload(check, check).isEmpty()) {
        std::fprintf(stderr, "fuzz_hlsplaylist: a valid playlist is inconsistent with itself\n");
        std::abort();
    }
    return 0;
}
