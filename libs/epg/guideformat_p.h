#pragma once

// Internal layout of the compact guide file. docs/guide-format.md is the normative description;
// keep the two in step. Everything is little-endian.

#include "guidelimits.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QtEndian>
#include <QtGlobal>

#include <cstring>
#include <vector>

namespace iptv::epg::format {

inline constexpr char kMagic[8] = {'I', 'P', 'T', 'V', 'G', 'U', 'I', 'D'};
inline constexpr quint16 kVersion = 3;
inline constexpr quint32 kHeaderSize = 128;
inline constexpr quint32 kFlagZstd = 1;

/// Fixed header at offset 0; the body follows at kHeaderSize.
struct Header
{
    quint16 version = kVersion;
    quint16 headerSize = kHeaderSize;
    quint32 flags = kFlagZstd;
    qint64 validFrom = 0;
    qint64 validUntil = 0;
    qint64 createdAt = 0;
    quint32 channelCount = 0;
    quint32 airingCount = 0;
    quint32 programmeCount = 0;
    quint32 stringCount = 0;
    quint64 bodySize = 0;        ///< decompressed
    quint64 storedSize = 0;      ///< bytes following the header
    quint8 bodyHash[32] = {};    ///< BLAKE2b-256 of the decompressed body: the guide's identity
    quint32 generatorString = 0; ///< string id of the generator name
    quint32 reserved = 0;
    // offset 124: CRC-32 of bytes [0, 124)
};

QByteArray encodeHeader(const Header &h);
/// Parses and checks the kHeaderSize bytes at the start of `head` (magic, CRC, version, the
/// sizes against `limits`), not the size of what follows: for a header read alone (a delta's,
/// readInfo()). On failure returns false with a reason.
bool decodeHeaderFields(QByteArrayView head, Header *h, QString *reason, const GuideLimits &limits = {});
/// The same for a whole file, whose size must be the header's plus its storedSize.
bool decodeHeader(QByteArrayView bytes, Header *h, QString *reason, const GuideLimits &limits = {});

enum Section : quint32 {
    StringLengths = 1,   ///< varint byte length per string (string 0 is the empty string)
    StringData = 2,      ///< UTF-8 bytes, back to back
    Channels = 3,        ///< ChannelRow[channelCount]
    ChannelLengths = 4,  ///< varint byte length per channel record
    ChannelData = 5,     ///< tagged channel records (every name, icon, url), plain string ids
    AiringStart = 6,     ///< u32[airingCount], per channel: first = (i32)(start - validFrom), then deltas
    AiringDuration = 7,  ///< u32[airingCount] gap: seconds from stop to the channel's next start; last: duration
    AiringProgramme = 8, ///< varint code per airing, per channel (RecentProgrammes below)
    AiringFlagBits = 9,  ///< u8[airingCount]
    AiringUtcOffset = 10,///< i16[airingCount] the source's UTC offset in minutes
    ProgrammeLengths = 11, ///< per programme record: varint byte length, varint count of new strings
    ProgrammeData = 12,  ///< tagged programme records, strings numbered by first use
    AiringNewProgramme = 13, ///< varint programme id for each AiringProgramme code 0, in airing order
};

/// The programmes a channel named most recently, for the AiringProgramme codes: 0 takes the
/// next id of AiringNewProgramme, 2r + 1 repeats the programme of rank r (0 = the most recent),
/// 2r + 2 names the programme after it (id + 1). Either way the named programme becomes rank 0
/// (a repeat moves, a new one enters and the least recent falls off past kRecentProgrammes).
/// Most airings are a repeat on the same channel or a series' next episode, which records of
/// one title numbered by first airing make the next id: a byte or less instead of a full id.
class RecentProgrammes
{
public:
    static constexpr qsizetype kCapacity = 1024;

    void clear() { m_items.clear(); }
    qsizetype size() const { return qsizetype(m_items.size()); }
    /// Rank of programme p (0 = most recent), or -1.
    qsizetype rankOf(quint32 p) const
    {
        for (qsizetype i = size(); i-- > 0;)
            if (m_items[size_t(i)] == p)
                return size() - 1 - i;
        return -1;
    }
    quint32 at(qsizetype rank) const { return m_items[size_t(size() - 1 - rank)]; }
    /// Makes the programme at `rank` the most recent.
    void repeat(qsizetype rank)
    {
        const size_t i = size_t(size() - 1 - rank);
        const quint32 p = m_items[i];
        m_items.erase(m_items.begin() + qptrdiff(i));
        m_items.push_back(p);
    }
    /// Adds a programme not in the list as the most recent.
    void add(quint32 p)
    {
        if (size() == kCapacity)
            m_items.erase(m_items.begin());
        m_items.push_back(p);
    }

private:
    std::vector<quint32> m_items; ///< least recent first
};

struct SectionEntry
{
    quint32 id;
    quint32 reserved;
    quint64 offset; ///< from the start of the body
    quint64 size;
};

struct ChannelRow
{
    quint32 idString;
    quint32 nameString;
    quint32 iconString;
    quint32 groupString;
    quint32 streamString;
    quint32 number;
    quint32 firstAiring;
    quint32 airingCount;
};
static_assert(sizeof(ChannelRow) == 32);

/// Tags of programme and channel records. A record is a run of (tag, fields...), fields being
/// varints (numbers, string ids; string id 0 is the empty string).
enum Tag : quint8 {
    TagTitle = 1,        // lang, text
    TagSubTitle = 2,     // lang, text
    TagDesc = 3,         // lang, text
    TagCredit = 4,       // role, name, character, guest
    TagDate = 5,         // text
    TagCategory = 6,     // lang, text
    TagKeyword = 7,      // lang, text
    TagLanguage = 8,     // lang, text
    TagOrigLanguage = 9, // lang, text
    TagLength = 10,      // seconds
    TagIcon = 11,        // src, width, height
    TagUrl = 12,         // text
    TagCountry = 13,     // lang, text
    TagEpisodeNum = 14,  // system, value
    TagVideo = 15,       // bits, aspect, quality
    TagAudio = 16,       // bits, stereo
    TagSubtitles = 17,   // type, lang
    TagRating = 18,      // system, value, icon count, icons (src, width, height)
    TagStarRating = 19,  // same as rating
    TagReview = 20,      // lang, text
    TagPreviouslyShown = 21, // start text, channel
    TagPremiereText = 22,    // lang, text
    TagLastChanceText = 23,  // lang, text
    // channel records
    TagDisplayName = 40, // lang, text
    TagChannelIcon = 41, // src, width, height
    TagChannelUrl = 42,  // text
};

// ---- varints (LEB128) ----
inline void putVarint(QByteArray &out, quint64 v)
{
    while (v >= 0x80) {
        out.append(char(quint8(v) | 0x80));
        v >>= 7;
    }
    out.append(char(v));
}

/// Reads a varint at *pos; returns false when the data ends or the varint is too long.
inline bool getVarint(const quint8 *data, qsizetype size, qsizetype *pos, quint64 *v)
{
    quint64 result = 0;
    int shift = 0;
    while (*pos < size && shift < 64) {
        const quint8 b = data[(*pos)++];
        result |= quint64(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = result;
            return true;
        }
        shift += 7;
    }
    return false;
}

template<typename T>
inline void putRaw(QByteArray &out, T v)
{
    v = qToLittleEndian(v);
    out.append(reinterpret_cast<const char *>(&v), sizeof v);
}

template<typename T>
inline T getRaw(const char *p)
{
    T v;
    std::memcpy(&v, p, sizeof v);
    return qFromLittleEndian(v);
}

/// zstd-decompresses a guide body; checks the frame's own content checksum.
QByteArray decompressBody(QByteArrayView stored, quint64 expectedSize, QString *reason,
                          QByteArrayView prefix = {});
/// Whether `stored` is a zstd frame that may hold expectedSize bytes (check before sizing `out`).
bool frameMatches(QByteArrayView stored, quint64 expectedSize, QString *reason);
/// The same into `out`, which holds expectedSize bytes.
bool decompressBodyInto(QByteArrayView stored, char *out, quint64 expectedSize, QString *reason,
                        QByteArrayView prefix = {});
QByteArray compressBody(QByteArrayView body, int level, int threads, QString *reason, QByteArrayView prefix = {});
QByteArray bodyHash(QByteArrayView body);

} // namespace iptv::epg::format
