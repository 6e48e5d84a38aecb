#pragma once

#include "guide.h"
#include "guideformat_p.h"
#include "guiderecord_p.h"
#include "search.h"

#include <QByteArray>
#include <QHash>

#include <algorithm>
#include <thread>
#include <vector>

namespace iptv::epg {

/// Runs f(begin, end, worker) over `workers` slices of [0, n) at once; the caller's thread takes
/// the first slice.
template<typename F>
void parallelRanges(size_t n, int workers, F &&f)
{
    std::vector<std::thread> threads;
    for (int w = 1; w < workers; ++w)
        threads.emplace_back([&, w] { f(n * size_t(w) / size_t(workers), n * size_t(w + 1) / size_t(workers), w); });
    f(0, n / size_t(workers), 0);
    for (auto &t : threads)
        t.join();
}

/// Memory in a mapping of its own, so that the parts a guide needs only while it is opened can be
/// given back in the middle (a malloc'd block returns nothing until it is freed whole).
class PageBuffer
{
public:
    PageBuffer() = default;
    ~PageBuffer();
    PageBuffer(const PageBuffer &) = delete;
    PageBuffer &operator=(const PageBuffer &) = delete;
    /// Maps `size` bytes of zeroed memory; false when the system has none.
    bool allocate(size_t size);
    char *data() const { return m_data; }
    size_t size() const { return m_size; }
    /// Gives back the whole pages inside [offset, offset + size); they read as zeros after.
    void release(size_t offset, size_t size);
    size_t releasedBytes() const { return m_released; }

private:
    char *m_data = nullptr;
    size_t m_size = 0;
    size_t m_released = 0;
};

struct Guide::Private
{
    GuideInfo info;
    format::Header header;
    PageBuffer body; ///< decompressed; the sections only open reads are given back

    // Views into the body.
    const char *stringData = nullptr;
    const char *channelRows = nullptr;
    const char *channelData = nullptr;
    const quint8 *flags = nullptr;
    const char *utcOffsets = nullptr;
    const char *programmeData = nullptr;

    // Decoded at open (the "index" step).
    std::vector<quint32> stringOffsets;    ///< stringCount + 1, in the table's (grouped) order
    std::vector<quint32> stringSlot;       ///< string id -> its place in the table
    std::vector<quint32> channelOffsets;   ///< channelCount + 1
    std::vector<quint32> programmeOffsets; ///< programmeCount + 1
    std::vector<quint32> programmeFirstNew; ///< first string id a record introduces
    std::vector<qint32> starts;            ///< start per airing, seconds from header.validFrom
    std::vector<quint32> channelEnds;      ///< per channel: the end of its airings (they come channel by channel)
    std::vector<quint32> durations;        ///< seconds per airing
    std::vector<quint32> programmes;       ///< programme record per airing
    std::vector<quint64> programmeDigests; ///< per programme: Guide::programmeDigest()
    std::vector<quint64> channelDigests;   ///< per channel: Guide::channelDigest()
    /// Fills programmeDigests and channelDigests on `workers` threads; the strings must be plain
    /// (before packDescriptions).
    void computeDigests(int workers);
    QHash<QString, int> channelById;

    std::unique_ptr<SearchIndex> search;

    /// Descriptions, the bulk of a guide's text (more than half of the body) but read one at a
    /// time (a programme's details, an export), are kept zstd-compressed in blocks of whole
    /// strings once the search index has read them; the other strings stay plain in the body.
    struct PackedStrings
    {
        quint32 firstSlot = 0, endSlot = 0;    ///< the slots packed (none when equal)
        std::vector<quint32> blockFirstSlot;   ///< per block, + endSlot
        std::vector<quint32> blockOffset;      ///< per block: where its frame starts in `frames`, + end
        std::vector<char> frames;
        quint64 serial = 0; ///< tells this guide's blocks apart in the per-thread cache
    } packed;
    /// Compresses the description strings into `packed` on `workers` threads and gives their
    /// pages in the body back.
    void packDescriptions(quint32 firstSlot, quint32 endSlot, int workers);
    /// A packed string, from a block decompressed into this thread's cache.
    QByteArrayView packedView(quint32 slot) const;

    QByteArrayView stringView(quint32 id) const
    {
        if (id >= header.stringCount)
            return {};
        const quint32 slot = stringSlot[id];
        if (slot >= packed.firstSlot && slot < packed.endSlot)
            return packedView(slot);
        return QByteArrayView(stringData + stringOffsets[slot], stringOffsets[slot + 1] - stringOffsets[slot]);
    }
    qint64 start(quint32 airing) const { return header.validFrom + starts[airing]; }
    /// The channel of an airing: a binary search of a few kilobytes instead of a table a quarter
    /// of the airing table's size.
    quint32 channelOf(quint32 airing) const
    {
        return quint32(std::upper_bound(channelEnds.begin(), channelEnds.end(), airing) - channelEnds.begin());
    }
    /// The first of `starts` [begin, end) after t (upper_bound), or at or after t (lower_bound).
    const qint32 *startAfter(const qint32 *begin, const qint32 *end, qint64 t) const
    {
        return std::upper_bound(begin, end, t, [this](qint64 v, qint32 s) { return v < header.validFrom + s; });
    }
    const qint32 *startFrom(const qint32 *begin, const qint32 *end, qint64 t) const
    {
        return std::lower_bound(begin, end, t, [this](qint32 s, qint64 v) { return header.validFrom + s < v; });
    }
    QString str(quint32 id) const { return QString::fromUtf8(stringView(id)); }
    format::ChannelRow row(int channel) const
    {
        format::ChannelRow r;
        std::memcpy(&r, channelRows + qsizetype(channel) * sizeof(format::ChannelRow), sizeof r);
        return r; // little-endian hosts only; checked at compile time in guide.cpp
    }
    /// Walks programme record p with its strings resolved to plain ids.
    template<typename OnTag, typename OnField>
    bool walkProgramme(quint32 p, OnTag &&onTag, OnField &&onField) const
    {
        quint32 next = programmeFirstNew[p];
        const auto *data = reinterpret_cast<const quint8 *>(programmeData + programmeOffsets[p]);
        return format::walkRecord(data, programmeOffsets[p + 1] - programmeOffsets[p], onTag, onField, &next);
    }
    Airing airing(quint32 index) const;
};

} // namespace iptv::epg
