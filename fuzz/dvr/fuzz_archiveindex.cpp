// Fuzzes a recording's index file (index.tsv) as a crash, a full disk or a hand edit may leave it:
// any bytes must parse without crashing, every byte must be counted as whole lines or a torn tail,
// and every segment read must be one the writer could have written (its line reads back the same,
// no negative sizes, a file name inside the chunk's folder), since playlists and playback trust it.
#include <dvr/archiveindex.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

using iptv::dvr::ArchiveIndex;
using iptv::dvr::ArchiveIndexContents;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray bytes = QByteArray::fromRawData(reinterpret_cast<const char *>(data), qsizetype(size));
    const ArchiveIndexContents c = ArchiveIndex::parse(bytes);
    if (c.validBytes + c.tornBytes != bytes.size() || c.validBytes < 0 || c.tornBytes < 0 || c.badLines < 0) {
        std::fprintf(stderr, "fuzz_archiveindex: %lld whole + %lld torn bytes of %lld\n", qlonglong(c.validBytes),
                     qlonglong(c.tornBytes), qlonglong(bytes.size()));
        std::abort();
    }
    for (const auto &s : c.segments) {
        if (s.sequence < 0 || s.durationMs < 0 || s.bytes < 0 || s.file.isEmpty() || s.file.contains(u'/')
            || s.file == u"." || s.file == u"..") {
            std::fprintf(stderr, "fuzz_archiveindex: a segment no writer makes: %s\n", ArchiveIndex::line(s).constData());
            std::abort();
        }
        const ArchiveIndexContents again = ArchiveIndex::parse(ArchiveIndex::line(s));
        if (again.segments.size() != 1 || !(again.segments.first() == s)) {
            std::fprintf(stderr, "fuzz_archiveindex: a segment's line does not read back: %s\n",
                         ArchiveIndex::line(s).constData());
            std::abort();
        }
    }
    return 0;
}
