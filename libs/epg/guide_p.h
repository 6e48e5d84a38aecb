#pragma once

#include "guide.h"
#include "guideformat_p.h"
#include "search.h"

#include <QByteArray>
#include <QHash>

#include <vector>

namespace iptv::epg {

struct Guide::Private
{
    GuideInfo info;
    format::Header header;
    QByteArray body;

    // Views into the body.
    const char *stringOffsets = nullptr;
    const char *stringData = nullptr;
    quint64 stringDataSize = 0;
    const char *channelRows = nullptr;
    const char *channelOffsets = nullptr;
    const char *channelData = nullptr;
    quint64 channelDataSize = 0;
    const char *durations = nullptr;
    const char *programmes = nullptr;
    const quint8 *flags = nullptr;
    const char *utcOffsets = nullptr;
    const char *programmeOffsets = nullptr;
    const char *programmeData = nullptr;
    quint64 programmeDataSize = 0;
    const char *tokenOffsets = nullptr;
    const char *tokenData = nullptr;
    quint64 tokenDataSize = 0;
    quint32 tokenCount = 0;

    // Decoded at open (the "index" step).
    std::vector<qint64> starts;          ///< absolute start per airing
    std::vector<quint32> airingChannel;  ///< channel per airing
    std::vector<quint32> tokenListOffsets; ///< per programme: [title tokens | all tokens], 2 entries each
    std::vector<quint32> tokenLists;
    QHash<QString, int> channelById;

    std::unique_ptr<SearchIndex> search;

    quint32 u32(const char *base, quint64 i) const { return format::getRaw<quint32>(base + i * 4); }
    QByteArrayView stringView(quint32 id) const
    {
        if (id >= header.stringCount)
            return {};
        const quint32 a = u32(stringOffsets, id), b = u32(stringOffsets, id + 1);
        return QByteArrayView(stringData + a, b - a);
    }
    QString str(quint32 id) const { return QString::fromUtf8(stringView(id)); }
    format::ChannelRow row(int channel) const
    {
        format::ChannelRow r;
        std::memcpy(&r, channelRows + qsizetype(channel) * sizeof(format::ChannelRow), sizeof r);
        return r; // little-endian hosts only; checked at open
    }
    QByteArrayView programmeRecord(quint32 programme) const
    {
        const quint32 a = u32(programmeOffsets, programme), b = u32(programmeOffsets, programme + 1);
        return QByteArrayView(programmeData + a, b - a);
    }
    QByteArrayView tokenView(quint32 token) const
    {
        const quint32 a = u32(tokenOffsets, token), b = u32(tokenOffsets, token + 1);
        return QByteArrayView(tokenData + a, b - a);
    }
    Airing airing(quint32 index) const;
};

} // namespace iptv::epg
