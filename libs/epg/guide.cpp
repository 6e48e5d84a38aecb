#include "guide.h"

#include "guide_p.h"
#include "guiderecord_p.h"

#include <QElapsedTimer>
#include <QFile>
#include <QLoggingCategory>
#include <QThread>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <limits>

#include <ctime>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

Q_LOGGING_CATEGORY(lcGuideRead, "iptv.epg.guide")

namespace iptv::epg {

using namespace format;

static_assert(Q_BYTE_ORDER == Q_LITTLE_ENDIAN, "the reader maps little-endian arrays directly");

namespace {

bool fail(QString *error, const QString &source, const QString &reason)
{
    if (error)
        *error = (source.isEmpty() ? QStringLiteral("guide") : source) + u": " + reason;
    qCWarning(lcGuideRead).noquote() << source << reason;
    return false;
}

/// Turns a run of varint lengths into count + 1 offsets; false when the run is short, long,
/// or adds up to more than the data it describes. With `newCounts`, each entry is a pair
/// (length, new strings) and the running sum of the second goes there (count + 1 entries).
bool decodeLengths(const char *data, quint64 size, quint64 count, quint64 dataSize, std::vector<quint32> *offsets,
                   std::vector<quint32> *newCounts = nullptr)
{
    const auto *bytes = reinterpret_cast<const quint8 *>(data);
    qsizetype pos = 0;
    // Every entry takes at least a byte (two with new counts): a count the table cannot hold is
    // refused before anything is sized by it.
    if (count > size / (newCounts ? 2 : 1))
        return false;
    offsets->resize(count + 1);
    (*offsets)[0] = 0;
    quint64 total = 0, newTotal = 0;
    if (newCounts)
        newCounts->resize(count + 1);
    for (quint64 i = 0; i < count; ++i) {
        quint64 len = 0;
        if (!getVarint(bytes, qsizetype(size), &pos, &len) || (total += len) > dataSize)
            return false;
        (*offsets)[i + 1] = quint32(total);
        if (newCounts) {
            quint64 fresh = 0;
            if (!getVarint(bytes, qsizetype(size), &pos, &fresh) || fresh > len)
                return false;
            (*newCounts)[i] = quint32(newTotal);
            newTotal += fresh;
        }
    }
    if (newCounts)
        (*newCounts)[count] = quint32(newTotal);
    return quint64(pos) == size && total == dataSize;
}

} // namespace

Airing Guide::Private::airing(quint32 index) const
{
    Airing a;
    if (index >= header.airingCount)
        return a;
    a.index = index;
    a.channel = channelOf(index);
    a.start = start(index);
    a.stop = a.start + durations[index];
    a.programme = programmes[index];
    a.flags = flags[index];
    return a;
}

PageBuffer::~PageBuffer()
{
    if (m_data)
        munmap(m_data, m_size);
}

bool PageBuffer::allocate(size_t size)
{
    void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return false;
    m_data = static_cast<char *>(p);
    m_size = size;
    return true;
}

void PageBuffer::release(size_t offset, size_t size)
{
    static const size_t page = size_t(sysconf(_SC_PAGESIZE));
    const size_t begin = (offset + page - 1) / page * page, end = (offset + size) / page * page;
    if (!m_data || end <= begin || end > m_size)
        return;
    if (madvise(m_data + begin, end - begin, MADV_DONTNEED) == 0)
        m_released += end - begin;
}

namespace {

/// Raw bytes of the strings a block holds: about what keeps a description's lookup (one block
/// decompressed) in tens of microseconds while zstd still finds the repeats between descriptions.
constexpr quint32 kPackedBlockBytes = 32 * 1024;
/// zstd level of the packed blocks: fast enough to compress two weeks of descriptions in a few
/// tens of milliseconds when a guide is opened.
constexpr int kPackedLevel = 1;
/// Blocks a thread keeps decompressed: a view of a packed string lasts until this many others are read.
constexpr int kCachedBlocks = 4;

std::atomic<quint64> s_nextSerial{1};

struct ZstdDCtxDeleter { void operator()(ZSTD_DCtx *c) const { ZSTD_freeDCtx(c); } };
struct ZstdCCtxDeleter { void operator()(ZSTD_CCtx *c) const { ZSTD_freeCCtx(c); } };

struct CachedBlock
{
    quint64 serial = 0;
    quint32 block = 0;
    quint64 lastUse = 0;
    std::vector<char> bytes;
};

} // namespace

void Guide::Private::packDescriptions(quint32 firstSlot, quint32 endSlot, int workers)
{
    if (firstSlot >= endSlot)
        return;
    PackedStrings p;
    p.firstSlot = firstSlot;
    p.endSlot = endSlot;
    p.serial = s_nextSerial.fetch_add(1);
    for (quint32 slot = firstSlot; slot < endSlot;) {
        p.blockFirstSlot.push_back(slot);
        const quint32 begin = stringOffsets[slot];
        do
            ++slot;
        while (slot < endSlot && stringOffsets[slot] - begin < kPackedBlockBytes);
    }
    p.blockFirstSlot.push_back(endSlot);
    const size_t blocks = p.blockFirstSlot.size() - 1;

    // Blocks are independent: each worker compresses its range into its own buffer.
    struct Part { std::vector<char> frames; std::vector<quint32> sizes; bool ok = true; };
    std::vector<Part> parts(static_cast<size_t>(workers));
    parallelRanges(blocks, workers, [&](size_t begin, size_t end, int w) {
        Part &part = parts[size_t(w)];
        std::unique_ptr<ZSTD_CCtx, ZstdCCtxDeleter> cctx(ZSTD_createCCtx());
        part.ok = cctx != nullptr;
        for (size_t b = begin; b < end && part.ok; ++b) {
            const quint32 from = stringOffsets[p.blockFirstSlot[b]], to = stringOffsets[p.blockFirstSlot[b + 1]];
            const size_t at = part.frames.size();
            part.frames.resize(at + ZSTD_compressBound(to - from));
            const size_t n = ZSTD_compressCCtx(cctx.get(), part.frames.data() + at, part.frames.size() - at,
                                               stringData + from, to - from, kPackedLevel);
            part.ok = !ZSTD_isError(n);
            part.frames.resize(part.ok ? at + n : at);
            part.sizes.push_back(quint32(n));
        }
    });
    size_t total = 0;
    for (const Part &part : parts) {
        if (!part.ok) {
            qCWarning(lcGuideRead) << "cannot compress the descriptions; they stay as they are";
            return;
        }
        total += part.frames.size();
    }
    p.frames.reserve(total);
    p.blockOffset.reserve(blocks + 1);
    for (Part &part : parts) {
        quint32 at = quint32(p.frames.size());
        for (quint32 size : part.sizes) {
            p.blockOffset.push_back(at);
            at += size;
        }
        p.frames.insert(p.frames.end(), part.frames.begin(), part.frames.end());
        part = Part();
    }
    p.blockOffset.push_back(quint32(p.frames.size()));
    packed = std::move(p);
    const quint32 from = stringOffsets[firstSlot], to = stringOffsets[endSlot];
    body.release(size_t(stringData - body.data()) + from, to - from);
}

QByteArrayView Guide::Private::packedView(quint32 slot) const
{
    // Each thread keeps its last few blocks: reading a programme's texts, or every programme in
    // order (an export, the DVR scheduler's keys), decompresses a block once.
    thread_local std::array<CachedBlock, kCachedBlocks> cache;
    thread_local std::unique_ptr<ZSTD_DCtx, ZstdDCtxDeleter> dctx;
    thread_local quint64 uses = 0;
    const quint32 block = quint32(std::upper_bound(packed.blockFirstSlot.begin(), packed.blockFirstSlot.end(), slot)
                                  - packed.blockFirstSlot.begin() - 1);
    const quint32 base = stringOffsets[packed.blockFirstSlot[block]];
    const quint32 from = stringOffsets[slot] - base, size = stringOffsets[slot + 1] - stringOffsets[slot];
    CachedBlock *entry = nullptr;
    for (CachedBlock &c : cache)
        if (c.serial == packed.serial && c.block == block)
            entry = &c;
    if (!entry) {
        entry = &*std::min_element(cache.begin(), cache.end(),
                                   [](const CachedBlock &a, const CachedBlock &b) { return a.lastUse < b.lastUse; });
        if (!dctx)
            dctx.reset(ZSTD_createDCtx());
        entry->serial = 0;
        entry->bytes.resize(stringOffsets[packed.blockFirstSlot[block + 1]] - base);
        const size_t n = dctx ? ZSTD_decompressDCtx(dctx.get(), entry->bytes.data(), entry->bytes.size(),
                                                    packed.frames.data() + packed.blockOffset[block],
                                                    packed.blockOffset[block + 1] - packed.blockOffset[block])
                              : 0;
        if (!dctx || ZSTD_isError(n) || n != entry->bytes.size()) {
            qCWarning(lcGuideRead) << "cannot decompress description block" << block;
            return {};
        }
        entry->serial = packed.serial;
        entry->block = block;
    }
    entry->lastUse = ++uses;
    return QByteArrayView(entry->bytes.data() + from, size);
}

namespace {

/// A quick 64-bit hash of bytes (digests are compared, never stored in a file: no format promise).
quint64 digestBytes(QByteArrayView bytes, quint64 h)
{
    constexpr quint64 k = 0x9e3779b97f4a7c15ULL;
    const char *p = bytes.data();
    qsizetype n = bytes.size();
    h ^= quint64(n) * k;
    for (; n >= 8; n -= 8, p += 8) {
        quint64 w;
        std::memcpy(&w, p, 8);
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    quint64 tail = 0;
    std::memcpy(&tail, p, size_t(n));
    h = (h ^ tail) * k;
    return h ^ (h >> 32);
}

quint64 digestValue(quint64 v, quint64 h)
{
    h = (h ^ v) * 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
}

} // namespace

void Guide::Private::computeDigests(int workers)
{
    const quint32 nProg = header.programmeCount;
    programmeDigests.assign(nProg, 0);
    // What programmeStrings() gives, by content: the first title, sub-title and description and
    // every episode number. Records are walked on every core while the descriptions are plain.
    parallelRanges(nProg, workers, [&](size_t begin, size_t end, int) {
        for (size_t p = begin; p < end; ++p) {
            quint32 title = 0, subTitle = 0, description = 0, system = 0;
            quint64 numbers = 0x51afd7ed558ccdffULL;
            quint8 tag = 0;
            int field = 0;
            walkProgramme(quint32(p), [&](quint8 t) { tag = t; field = 0; },
                          [&](char, quint64 v) {
                              const int f = field++;
                              switch (tag) {
                              case TagTitle: if (f == 1 && !title) title = quint32(v); break;
                              case TagSubTitle: if (f == 1 && !subTitle) subTitle = quint32(v); break;
                              case TagDesc: if (f == 1 && !description) description = quint32(v); break;
                              case TagEpisodeNum:
                                  if (f == 0)
                                      system = quint32(v);
                                  else if (f == 1)
                                      numbers = digestBytes(stringView(quint32(v)), digestBytes(stringView(system), numbers));
                                  break;
                              default: break;
                              }
                          });
            quint64 h = digestBytes(stringView(title), 0x2545f4914f6cdd1dULL);
            h = digestBytes(stringView(subTitle), h);
            h = digestBytes(stringView(description), h);
            programmeDigests[p] = digestValue(numbers, h);
        }
    });
    const quint32 nCh = header.channelCount;
    channelDigests.assign(nCh, 0);
    for (quint32 c = 0; c < nCh; ++c) {
        const quint32 first = c ? channelEnds[c - 1] : 0, end = channelEnds[c];
        quint64 h = digestValue(end - first, 0x7c15ULL);
        for (quint32 i = first; i < end; ++i) {
            // Absolute starts: the window (validFrom) moves between versions.
            h = digestValue(quint64(header.validFrom + starts[i]), h);
            h = digestValue(quint64(durations[i]), h);
            h = digestValue(quint64(flags[i]) << 56 ^ programmeDigests[programmes[i]], h);
        }
        channelDigests[c] = h;
    }
}

Guide::Guide(std::unique_ptr<Private> dd) : d(std::move(dd)) {}
Guide::~Guide() = default;

std::shared_ptr<const Guide> Guide::open(const QString &path, QString *error, const GuideLimits &limits)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        fail(error, path, QStringLiteral("cannot open: ") + file.errorString());
        return nullptr;
    }
    if (quint64(file.size()) > kHeaderSize + limits.maxFileBytes) {
        fail(error, path, QStringLiteral("file is %1 bytes, over the limit of %2").arg(file.size()).arg(kHeaderSize + limits.maxFileBytes));
        return nullptr;
    }
    return fromBytes(file.readAll(), error, path, limits);
}

bool Guide::readInfo(const QString &path, GuideInfo *info, QString *error)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return fail(error, path, QStringLiteral("cannot open: ") + file.errorString());
    const QByteArray head = file.read(kHeaderSize);
    Header h;
    QString reason;
    // Only the header is read: its fields, then its size against the real file's.
    if (!decodeHeaderFields(head, &h, &reason))
        return fail(error, path, reason);
    if (quint64(file.size()) != kHeaderSize + h.storedSize)
        return fail(error, path, QStringLiteral("file is %1 bytes but the header says %2 (truncated or padded)")
                                     .arg(file.size()).arg(kHeaderSize + h.storedSize));
    info->formatVersion = h.version;
    info->validFrom = h.validFrom;
    info->validUntil = h.validUntil;
    info->createdAt = h.createdAt;
    info->channelCount = h.channelCount;
    info->airingCount = h.airingCount;
    info->programmeCount = h.programmeCount;
    info->stringCount = h.stringCount;
    info->fileSize = quint64(file.size());
    info->bodySize = h.bodySize;
    info->checksum = QByteArray(reinterpret_cast<const char *>(h.bodyHash), 32).toHex();
    return true;
}

std::shared_ptr<const Guide> Guide::fromBytes(const QByteArray &fileBytes, QString *error, const QString &sourceName,
                                              const GuideLimits &limits)
{
    auto d = std::make_unique<Private>();
    QString reason;
    Header &h = d->header;
    if (!decodeHeader(fileBytes, &h, &reason, limits)) {
        fail(error, sourceName, reason);
        return nullptr;
    }
    const QByteArrayView stored = QByteArrayView(fileBytes).sliced(kHeaderSize);
    if (!frameMatches(stored, h.bodySize, &reason)) {
        fail(error, sourceName, reason);
        return nullptr;
    }
    if (h.bodySize == 0 || !d->body.allocate(h.bodySize)) {
        fail(error, sourceName, QStringLiteral("cannot hold a body of %1 bytes").arg(h.bodySize));
        return nullptr;
    }
    if (!decompressBodyInto(stored, d->body.data(), h.bodySize, &reason)) {
        fail(error, sourceName, reason);
        return nullptr;
    }
    const char *const body = d->body.data();
    const quint64 bodySize = h.bodySize;

    // ---- section directory ----
    if (bodySize < 8) {
        fail(error, sourceName, QStringLiteral("body too small for its section directory"));
        return nullptr;
    }
    const quint32 sectionCount = getRaw<quint32>(body);
    if (sectionCount > 64 || 8 + quint64(sectionCount) * sizeof(SectionEntry) > bodySize) {
        fail(error, sourceName, QStringLiteral("bad section directory (%1 sections)").arg(sectionCount));
        return nullptr;
    }
    struct View { const char *data = nullptr; quint64 size = 0; bool present = false; };
    View sections[32];
    for (quint32 i = 0; i < sectionCount; ++i) {
        const char *e = body + 8 + i * sizeof(SectionEntry);
        const quint32 id = getRaw<quint32>(e);
        const quint64 offset = getRaw<quint64>(e + 8), size = getRaw<quint64>(e + 16);
        if (offset > bodySize || size > bodySize - offset || offset % 8) {
            fail(error, sourceName, QStringLiteral("section %1 lies outside the body").arg(id));
            return nullptr;
        }
        if (id < 32)
            sections[id] = {body + offset, size, true};
    }
    auto need = [&](Section id, quint64 expectedSize, const char *what) -> const char * {
        const View &v = sections[id];
        if (!v.present || (expectedSize != quint64(-1) && v.size != expectedSize)) {
            fail(error, sourceName, QStringLiteral("section %1 (%2) is missing or has the wrong size (%3, expected %4)")
                                        .arg(id).arg(QLatin1String(what)).arg(v.size).arg(expectedSize));
            return nullptr;
        }
        return v.data ? v.data : "";
    };
    const quint64 nStr = h.stringCount, nCh = h.channelCount, nAir = h.airingCount, nProg = h.programmeCount;
    if (nStr == 0) {
        fail(error, sourceName, QStringLiteral("no string table"));
        return nullptr;
    }
    bool ok = need(StringLengths, quint64(-1), "string lengths")
        && (d->stringData = need(StringData, quint64(-1), "string data"))
        && (d->channelRows = need(Channels, nCh * sizeof(ChannelRow), "channels"))
        && need(ChannelLengths, quint64(-1), "channel lengths")
        && (d->channelData = need(ChannelData, quint64(-1), "channel data"))
        && need(AiringStart, nAir * 4, "airing starts")
        && need(AiringDuration, nAir * 4, "airing durations")
        && need(AiringProgramme, quint64(-1), "airing programmes")
        && need(AiringNewProgramme, quint64(-1), "airing new programmes")
        && (d->flags = reinterpret_cast<const quint8 *>(need(AiringFlagBits, nAir, "airing flags")))
        && (d->utcOffsets = need(AiringUtcOffset, nAir * 2, "airing UTC offsets"))
        && need(ProgrammeLengths, quint64(-1), "programme lengths")
        && (d->programmeData = need(ProgrammeData, quint64(-1), "programme data"));
    if (!ok)
        return nullptr;
    auto lengths = [&](Section s, quint64 count, Section dataSection, std::vector<quint32> *offsets,
                       std::vector<quint32> *newCounts = nullptr) {
        return decodeLengths(sections[s].data, sections[s].size, count, sections[dataSection].size, offsets, newCounts);
    };
    if (!lengths(StringLengths, nStr, StringData, &d->stringOffsets) || !lengths(ChannelLengths, nCh, ChannelData, &d->channelOffsets)
        || !lengths(ProgrammeLengths, nProg, ProgrammeData, &d->programmeOffsets, &d->programmeFirstNew)) {
        fail(error, sourceName, QStringLiteral("a length table does not match its data"));
        return nullptr;
    }
    quint32 introducedFrom = quint32(nStr);
    if (nProg) {
        // Records introduce the strings after the channels' ones, in order, up to the last string.
        const quint64 introduced = d->programmeFirstNew.back();
        if (introduced >= nStr) {
            fail(error, sourceName, QStringLiteral("programme records introduce more strings than the table holds"));
            return nullptr;
        }
        introducedFrom = quint32(nStr - introduced);
        for (quint32 &v : d->programmeFirstNew)
            v += introducedFrom;
    }

    // ---- strings: the table is grouped by the field that introduces each string ----
    std::pair<quint32, quint32> descriptionSlots;
    {
        constexpr quint8 kUnset = 0xff;
        std::vector<quint8> group(nStr, GroupUnintroduced);
        std::fill(group.begin() + introducedFrom, group.end(), kUnset);
        // Records introduce disjoint ranges of strings: they are walked on every core.
        const Guide::Private &reader = *d;
        parallelRanges(nProg, std::clamp(QThread::idealThreadCount(), 1, 8), [&](size_t begin, size_t stop, int) {
            for (size_t r = begin; r < stop; ++r) {
                const quint32 first = reader.programmeFirstNew[r], end = reader.programmeFirstNew[r + 1];
                if (first == end)
                    continue;
                quint8 tag = 0;
                int field = 0;
                reader.walkProgramme(quint32(r), [&](quint8 t) { tag = t; field = 0; },
                                     [&](char kind, quint64 v) {
                                         const int f = field++;
                                         // Only this record's own new strings: a damaged record cannot reach others'.
                                         if (kind == 's' && v >= first && v < end && group[v] == kUnset)
                                             group[v] = stringGroup(tag, f);
                                     });
            }
        });
        std::array<quint32, GroupCount + 1> start{};
        for (quint8 &gr : group) {
            if (gr == kUnset)
                gr = GroupOther; // only in a damaged file; any group keeps the reader in bounds
            ++start[gr + 1];
        }
        for (int gr = 0; gr < GroupCount; ++gr)
            start[gr + 1] += start[gr];
        d->stringSlot.resize(nStr);
        for (quint64 id = 0; id < nStr; ++id)
            d->stringSlot[id] = start[group[id]]++;
        descriptionSlots = {start[GroupDescription - 1], start[GroupDescription]}; // each group's end, now
    }

    // ---- channels and the schedule ----
    d->channelEnds.reserve(nCh);
    d->starts.assign(nAir, 0);
    d->durations.assign(nAir, 0);
    d->programmes.assign(nAir, 0);
    const char *startCol = sections[AiringStart].data;
    const char *gapCol = sections[AiringDuration].data;
    const auto *codes = reinterpret_cast<const quint8 *>(sections[AiringProgramme].data);
    const auto *newIds = reinterpret_cast<const quint8 *>(sections[AiringNewProgramme].data);
    const qsizetype codesSize = qsizetype(sections[AiringProgramme].size), newIdsSize = qsizetype(sections[AiringNewProgramme].size);
    qsizetype codePos = 0, newIdPos = 0;
    RecentProgrammes recent;
    quint64 expectedFirst = 0;
    for (quint64 c = 0; c < nCh; ++c) {
        const ChannelRow r = d->row(int(c));
        for (quint32 s : {r.idString, r.nameString, r.iconString, r.groupString, r.streamString}) {
            if (s >= nStr) {
                fail(error, sourceName, QStringLiteral("channel %1 names string %2 of %3").arg(c).arg(s).arg(nStr));
                return nullptr;
            }
        }
        if (r.airingCount && r.firstAiring != expectedFirst) {
            fail(error, sourceName, QStringLiteral("channel %1's airings are not contiguous").arg(c));
            return nullptr;
        }
        if (quint64(r.firstAiring) + r.airingCount > nAir) {
            fail(error, sourceName, QStringLiteral("channel %1's airings run past the schedule").arg(c));
            return nullptr;
        }
        qint64 t = h.validFrom;
        const quint32 end = r.firstAiring + r.airingCount;
        for (quint32 i = r.firstAiring; i < end; ++i) {
            const quint32 raw = getRaw<quint32>(startCol + quint64(i) * 4);
            t = i == r.firstAiring ? h.validFrom + qint32(raw) : t + raw;
            // Starts are kept as 32-bit seconds from the window's start (68 years either way).
            if (t - h.validFrom > std::numeric_limits<qint32>::max()) {
                fail(error, sourceName, QStringLiteral("airing %1 starts decades after the guide's window").arg(i));
                return nullptr;
            }
            d->starts[i] = qint32(t - h.validFrom);
        }
        // Durations: the gap to the next start, or the last airing's own duration.
        for (quint32 i = r.firstAiring; i < end; ++i) {
            const quint32 gap = getRaw<quint32>(gapCol + quint64(i) * 4);
            if (i + 1 == end) {
                d->durations[i] = gap;
            } else if (quint64(gap) <= quint64(qint64(d->starts[i + 1]) - d->starts[i])) {
                d->durations[i] = quint32(qint64(d->starts[i + 1]) - d->starts[i] - gap);
            } else {
                fail(error, sourceName, QStringLiteral("airing %1 ends before it starts").arg(i));
                return nullptr;
            }
        }
        recent.clear();
        for (quint32 i = r.firstAiring; i < end; ++i) {
            quint64 code = 0, id = 0;
            if (!getVarint(codes, codesSize, &codePos, &code)) {
                fail(error, sourceName, QStringLiteral("the airing programme codes end at airing %1").arg(i));
                return nullptr;
            }
            const quint64 rank = code == 0 ? 0 : (code - 1) / 2;
            if (code != 0 && rank >= quint64(recent.size())) {
                fail(error, sourceName, QStringLiteral("airing %1 names recent programme %2 of %3").arg(i).arg(rank).arg(recent.size()));
                return nullptr;
            }
            if (code == 0) {
                if (!getVarint(newIds, newIdsSize, &newIdPos, &id)) {
                    fail(error, sourceName, QStringLiteral("the new programme ids end at airing %1").arg(i));
                    return nullptr;
                }
            } else if (code % 2) {
                id = recent.at(qsizetype(rank));
                recent.repeat(qsizetype(rank));
            } else {
                id = quint64(recent.at(qsizetype(rank))) + 1;
            }
            if (id >= nProg) {
                fail(error, sourceName, QStringLiteral("airing %1 names programme %2 of %3").arg(i).arg(id).arg(nProg));
                return nullptr;
            }
            if (code == 0 || code % 2 == 0)
                recent.add(quint32(id));
            d->programmes[i] = quint32(id);
        }
        expectedFirst += r.airingCount;
        d->channelEnds.push_back(quint32(expectedFirst));
        d->channelById.insert(d->str(r.idString), int(c));
    }
    if (expectedFirst != nAir) {
        fail(error, sourceName, QStringLiteral("%1 airings belong to no channel").arg(nAir - expectedFirst));
        return nullptr;
    }
    if (codePos != codesSize || newIdPos != newIdsSize) {
        fail(error, sourceName, QStringLiteral("the airing programme codes do not match the airings"));
        return nullptr;
    }

    GuideInfo &info = d->info;
    info.formatVersion = h.version;
    info.validFrom = h.validFrom;
    info.validUntil = h.validUntil;
    info.createdAt = h.createdAt;
    info.channelCount = h.channelCount;
    info.airingCount = h.airingCount;
    info.programmeCount = h.programmeCount;
    info.stringCount = h.stringCount;
    info.fileSize = quint64(fileBytes.size());
    info.bodySize = h.bodySize;
    info.checksum = QByteArray(reinterpret_cast<const char *>(h.bodyHash), 32).toHex();
    info.generator = d->str(h.generatorString);

    // What only opening reads (lengths, the schedule's columns now in the tables) goes back.
    for (Section s : {StringLengths, ChannelLengths, AiringStart, AiringDuration, AiringProgramme, AiringNewProgramme,
                      ProgrammeLengths})
        d->body.release(size_t(sections[s].data - body), sections[s].size);

    auto mib = [](size_t bytes) { return QString::number(double(bytes) / (1 << 20), 'f', 2); };
    auto vec = [](const auto &v) { return v.capacity() * sizeof(v[0]); };
    qCDebug(lcGuideRead).noquote() << sourceName << "memory (MiB): body" << mib(d->body.size() - d->body.releasedBytes())
                                   << "of" << mib(d->body.size()) << ", string tables"
                                   << mib(vec(d->stringOffsets) + vec(d->stringSlot)) << ", record tables"
                                   << mib(vec(d->channelOffsets) + vec(d->programmeOffsets) + vec(d->programmeFirstNew))
                                   << ", airing tables" << mib(vec(d->starts) + vec(d->channelEnds) + vec(d->durations) + vec(d->programmes));
    d->computeDigests(std::clamp(QThread::idealThreadCount(), 1, 8));
    std::shared_ptr<Guide> guide(new Guide(std::move(d)));
    // Once the index has read the descriptions they are read one at a time: they are packed on
    // this thread while another builds the index's largest postings.
    qint64 packingMs = 0, packingCpuMs = 0;
    guide->d->search = std::make_unique<SearchIndex>(*guide, [&] {
        QElapsedTimer packing;
        packing.start();
        timespec cpuBefore{}, cpuAfter{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpuBefore);
        guide->d->packDescriptions(descriptionSlots.first, descriptionSlots.second, 1);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpuAfter);
        packingMs = packing.elapsed();
        packingCpuMs = (cpuAfter.tv_sec - cpuBefore.tv_sec) * 1000 + (cpuAfter.tv_nsec - cpuBefore.tv_nsec) / 1000000;
    });
    qCDebug(lcGuideRead).noquote() << sourceName << "descriptions packed in" << packingMs << "ms (CPU" << packingCpuMs << "ms):"
                                   << mib(guide->d->packed.frames.capacity()) << "MiB in"
                                   << qMax<qsizetype>(0, qsizetype(guide->d->packed.blockOffset.size()) - 1) << "blocks; body kept"
                                   << mib(guide->d->body.size() - guide->d->body.releasedBytes()) << "MiB";
    return guide;
}

const GuideInfo &Guide::info() const { return d->info; }

int Guide::channelCount() const { return int(d->header.channelCount); }
QString Guide::channelId(int c) const { return c >= 0 && c < channelCount() ? d->str(d->row(c).idString) : QString(); }
QString Guide::channelName(int c) const { return c >= 0 && c < channelCount() ? d->str(d->row(c).nameString) : QString(); }
QString Guide::channelIcon(int c) const { return c >= 0 && c < channelCount() ? d->str(d->row(c).iconString) : QString(); }
int Guide::channelNumber(int c) const { return c >= 0 && c < channelCount() ? int(d->row(c).number) : 0; }
QString Guide::channelGroup(int c) const { return c >= 0 && c < channelCount() ? d->str(d->row(c).groupString) : QString(); }
QString Guide::channelStreamUrl(int c) const { return c >= 0 && c < channelCount() ? d->str(d->row(c).streamString) : QString(); }
int Guide::channelIndex(QStringView id) const { return d->channelById.value(id.toString(), -1); }

Channel Guide::channelRecord(int c) const
{
    Channel ch;
    if (c < 0 || c >= channelCount())
        return ch;
    const ChannelRow r = d->row(c);
    ch.id = d->str(r.idString);
    ch.number = int(r.number);
    ch.group = d->str(r.groupString);
    ch.streamUrl = d->str(r.streamString);
    const quint32 a = d->channelOffsets[size_t(c)], b = d->channelOffsets[size_t(c) + 1];
    quint8 tag = 0;
    int field = 0;
    QList<quint64> values;
    auto flush = [&] {
        if (tag == TagDisplayName && values.size() == 2)
            ch.displayNames.append({d->str(quint32(values[0])), d->str(quint32(values[1]))});
        else if (tag == TagChannelIcon && values.size() == 3)
            ch.icons.append({d->str(quint32(values[0])), int(values[1]), int(values[2])});
        else if (tag == TagChannelUrl && values.size() == 1)
            ch.urls.append(d->str(quint32(values[0])));
        values.clear();
    };
    walkRecord(reinterpret_cast<const quint8 *>(d->channelData + a), b - a,
               [&](quint8 t) { flush(); tag = t; field = 0; },
               [&](char, quint64 v) { values.append(v); ++field; });
    flush();
    return ch;
}

quint32 Guide::airingCount() const { return d->header.airingCount; }
Airing Guide::airing(quint32 index) const { return d->airing(index); }

Airing Guide::airingOn(int channel, quint32 index) const
{
    Airing a;
    if (index >= d->header.airingCount)
        return a;
    Q_ASSERT(d->channelOf(index) == quint32(channel));
    a.index = index;
    a.channel = quint32(channel);
    a.start = d->start(index);
    a.stop = a.start + d->durations[index];
    a.programme = d->programmes[index];
    a.flags = d->flags[index];
    return a;
}

quint32 Guide::airingProgramme(quint32 index) const
{
    return index < d->header.airingCount ? d->programmes[index] : 0;
}

std::pair<quint32, quint32> Guide::channelAirings(int c) const
{
    if (c < 0 || c >= channelCount())
        return {0, 0};
    const ChannelRow r = d->row(c);
    return {r.firstAiring, r.airingCount};
}

Airing Guide::airingAt(int channel, qint64 t) const
{
    const auto [first, count] = channelAirings(channel);
    const qint32 *const all = d->starts.data(), *begin = all + first, *end = begin + count;
    const qint32 *it = d->startAfter(begin, end, t); // first airing starting after t
    if (it == begin)
        return {};
    const Airing a = d->airing(quint32(it - all - 1));
    return t < a.stop ? a : Airing{};
}

std::pair<Airing, Airing> Guide::nowNext(int channel, qint64 t) const
{
    const auto [first, count] = channelAirings(channel);
    const qint32 *const all = d->starts.data(), *begin = all + first, *end = begin + count;
    const qint32 *it = d->startAfter(begin, end, t);
    Airing now, next;
    if (it != begin) {
        const Airing a = d->airing(quint32(it - all - 1));
        if (t < a.stop)
            now = a;
    }
    if (it != end)
        next = d->airing(quint32(it - all));
    return {now, next};
}

void Guide::window(int firstChannel, int count, qint64 from, qint64 to, QList<Airing> *out) const
{
    out->clear();
    const int last = std::min(channelCount(), firstChannel + count);
    for (int c = std::max(0, firstChannel); c < last; ++c) {
        const auto [first, n] = channelAirings(c);
        const qint32 *const all = d->starts.data(), *begin = all + first, *end = begin + n;
        // Airings are contiguous and non-overlapping, so the one before the first start >= from
        // is the only earlier one that can still be running at `from`.
        const qint32 *it = d->startFrom(begin, end, from);
        if (it != begin) {
            const quint32 prev = quint32(it - all - 1);
            if (d->start(prev) + d->durations[prev] > from)
                --it;
        }
        for (; it != end && d->header.validFrom + *it < to; ++it)
            out->append(d->airing(quint32(it - all)));
    }
}

quint32 Guide::programmeCount() const { return d->header.programmeCount; }

namespace {
/// First (lang, text) of a tag in a programme record: the text's string id, or 0.
quint32 firstText(const Guide::Private &d, quint32 programme, quint8 wanted)
{
    quint32 result = 0;
    quint8 tag = 0;
    int field = 0;
    bool done = false;
    d.walkProgramme(programme, [&](quint8 t) { tag = t; field = 0; },
                    [&](char, quint64 v) {
                        if (!done && tag == wanted && field == 1) {
                            result = quint32(v);
                            done = true;
                        }
                        ++field;
                    });
    return result;
}
} // namespace

QString Guide::title(quint32 p) const { return p < programmeCount() ? d->str(firstText(*d, p, TagTitle)) : QString(); }
QString Guide::subTitle(quint32 p) const { return p < programmeCount() ? d->str(firstText(*d, p, TagSubTitle)) : QString(); }
QString Guide::description(quint32 p) const { return p < programmeCount() ? d->str(firstText(*d, p, TagDesc)) : QString(); }
QString Guide::category(quint32 p) const { return p < programmeCount() ? d->str(firstText(*d, p, TagCategory)) : QString(); }

QString Guide::episode(quint32 p) const
{
    if (p >= programmeCount())
        return {};
    // Only the episode-num fields: this runs for every cell of a grid.
    quint32 onscreen = 0, ns = 0;
    bool haveOnscreen = false;
    quint8 tag = 0;
    int field = 0;
    quint32 system = 0;
    d->walkProgramme(p, [&](quint8 t) { tag = t; field = 0; },
                     [&](char, quint64 v) {
                         if (tag != TagEpisodeNum)
                             return;
                         if (field++ == 0) {
                             system = quint32(v);
                             return;
                         }
                         const QByteArrayView sys = d->stringView(system);
                         if (!haveOnscreen && (sys.isEmpty() || sys == "onscreen")) {
                             onscreen = quint32(v);
                             haveOnscreen = true;
                         } else if (!ns && sys == "xmltv_ns") {
                             ns = quint32(v);
                         }
                     });
    if (haveOnscreen)
        return d->str(onscreen);
    const QString xmltvNs = d->str(ns);
    if (xmltvNs.isEmpty())
        return {};
    // xmltv_ns is "season.episode.part", each zero-based "n/total".
    const QStringList parts = xmltvNs.split(u'.');
    auto number = [&](int i) {
        if (i >= parts.size())
            return -1;
        bool ok = false;
        const int n = parts[i].section(u'/', 0, 0).trimmed().toInt(&ok);
        return ok ? n + 1 : -1;
    };
    const int season = number(0), ep = number(1);
    QString out;
    if (season > 0)
        out += u'S' + QString::number(season);
    if (ep > 0)
        out += (out.isEmpty() ? QString() : QStringLiteral(" ")) + u'E' + QString::number(ep);
    return out;
}

Guide::ProgrammeStrings Guide::programmeStrings(quint32 p) const
{
    ProgrammeStrings out;
    if (p >= programmeCount())
        return out;
    // walkProgramme() with its callbacks inlined and a one-byte fast path for varints: the DVR
    // scheduler reads this for every programme it indexes and every identity it makes, and a
    // record with credits has dozens of fields to step over (each string field still counted,
    // since a 0 names the next new string). Stops where walkRecord() would fail, as it does.
    const auto *data = reinterpret_cast<const quint8 *>(d->programmeData + d->programmeOffsets[p]);
    const qsizetype size = qsizetype(d->programmeOffsets[p + 1] - d->programmeOffsets[p]);
    quint32 next = d->programmeFirstNew[p];
    qsizetype pos = 0;
    auto varint = [&](quint64 *v) {
        if (pos < size && data[pos] < 0x80) {
            *v = data[pos++];
            return true;
        }
        return format::getVarint(data, size, &pos, v);
    };
    auto resolve = [&](quint64 v) -> quint64 { return v == 0 ? next++ : v - 1; };
    quint32 system = 0;
    while (pos < size) {
        const quint8 tag = data[pos++];
        const char *layout = format::tagLayout(tag);
        if (!layout)
            return out;
        int field = 0;
        for (const char *f = layout; *f; ++f, ++field) {
            quint64 v = 0;
            if (!varint(&v))
                return out;
            if (*f == 'n')
                continue;
            if (*f == 's') {
                v = resolve(v);
                if (field == 1) {
                    switch (tag) {
                    case TagTitle: if (!out.title) out.title = quint32(v); break;
                    case TagSubTitle: if (!out.subTitle) out.subTitle = quint32(v); break;
                    case TagDesc: if (!out.description) out.description = quint32(v); break;
                    case TagEpisodeNum: out.episodeNums.append({system, quint32(v)}); break;
                    default: break;
                    }
                } else if (field == 0 && tag == TagEpisodeNum) {
                    system = quint32(v);
                }
                continue;
            }
            // 'i': an icon list (only after a tag's other fields: ratings), count x (s n n).
            if (v > 1000)
                return out;
            for (quint64 k = 0; k < v * 3; ++k) {
                quint64 w = 0;
                if (!varint(&w))
                    return out;
                if (k % 3 == 0)
                    resolve(w);
            }
        }
    }
    return out;
}

Programme Guide::programmeRecord(const Airing &a) const
{
    Programme p;
    if (a.programme >= programmeCount())
        return p;
    if (a.isValid() && a.index < airingCount()) {
        p.channelId = channelId(int(a.channel));
        p.start = a.start;
        p.stop = a.stop;
        p.startUtcOffset = int(getRaw<qint16>(d->utcOffsets + quint64(a.index) * 2)) * 60;
        p.airing.isNew = a.flags & FlagNew;
        p.airing.premiere = a.flags & FlagPremiere;
        p.airing.previouslyShown = a.flags & FlagPreviouslyShown;
        p.airing.lastChance = a.flags & FlagLastChance;
    }
    quint8 tag = 0;
    QList<quint64> v;
    auto s = [&](int i) { return i < v.size() ? d->str(quint32(v[i])) : QString(); };
    auto lt = [&]() { return LangText{s(0), s(1)}; };
    auto icons = [&](int from) {
        QList<Icon> list;
        for (int i = from; i + 2 < v.size(); i += 3)
            list.append({s(i), int(v[i + 1]), int(v[i + 2])});
        return list;
    };
    auto flush = [&] {
        switch (tag) {
        case TagTitle: p.titles.append(lt()); break;
        case TagSubTitle: p.subTitles.append(lt()); break;
        case TagDesc: p.descs.append(lt()); break;
        case TagCredit:
            if (v.size() == 4)
                p.credits.append({Credit::Role(qMin<quint64>(v[0], quint64(Credit::Role::Guest))), s(1), s(2), v[3] != 0});
            break;
        case TagDate: p.date = s(0); break;
        case TagCategory: p.categories.append(lt()); break;
        case TagKeyword: p.keywords.append(lt()); break;
        case TagLanguage: p.language = lt(); break;
        case TagOrigLanguage: p.origLanguage = lt(); break;
        case TagLength: p.lengthSeconds = v.isEmpty() ? 0 : int(v[0]); break;
        case TagIcon: p.icons.append(icons(0)); break;
        case TagUrl: p.urls.append(s(0)); break;
        case TagCountry: p.countries.append(lt()); break;
        case TagEpisodeNum: p.episodeNums.append({s(0), s(1)}); break;
        case TagVideo:
            if (v.size() == 3) {
                p.video.hasPresent = v[0] & 1;
                p.video.present = v[0] & 2;
                p.video.hasColour = v[0] & 4;
                p.video.colour = v[0] & 8;
                p.video.aspect = s(1);
                p.video.quality = s(2);
            }
            break;
        case TagAudio:
            if (v.size() == 2) {
                p.audio.hasPresent = v[0] & 1;
                p.audio.present = v[0] & 2;
                p.audio.stereo = s(1);
            }
            break;
        case TagSubtitles: p.subtitles.append({s(0), s(1)}); break;
        case TagRating: p.ratings.append({s(0), s(1), icons(3)}); break;
        case TagStarRating: p.starRatings.append({s(0), s(1), icons(3)}); break;
        case TagReview: p.reviews.append(lt()); break;
        case TagPreviouslyShown:
            p.airing.previouslyShownStart = s(0);
            p.airing.previouslyShownChannel = s(1);
            break;
        case TagPremiereText: p.airing.premiereText = lt(); break;
        case TagLastChanceText: p.airing.lastChanceText = lt(); break;
        default: break;
        }
        v.clear();
    };
    d->walkProgramme(a.programme, [&](quint8 t) { flush(); tag = t; }, [&](char, quint64 value) { v.append(value); });
    flush();
    return p;
}

const SearchIndex &Guide::searchIndex() const { return *d->search; }
QByteArrayView Guide::string(quint32 id) const { return d->stringView(id); }
quint64 Guide::programmeDigest(quint32 p) const { return p < programmeCount() ? d->programmeDigests[p] : 0; }
quint64 Guide::channelDigest(int c) const { return c >= 0 && c < channelCount() ? d->channelDigests[size_t(c)] : 0; }
quint32 Guide::stringCount() const { return d->header.stringCount; }

} // namespace iptv::epg
