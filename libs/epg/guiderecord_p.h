#pragma once

// Field layouts of the tagged records in a guide body, shared by the writer (which re-numbers
// string ids) and the reader (which decodes records into Programme/Channel).

#include "guideformat_p.h"

namespace iptv::epg::format {

/// Layout per tag: 's' string id, 'n' number, 'i' icon list (count, then count × s n n).
inline const char *tagLayout(quint8 tag)
{
    switch (tag) {
    case TagTitle: case TagSubTitle: case TagDesc: case TagCategory: case TagKeyword:
    case TagLanguage: case TagOrigLanguage: case TagCountry: case TagReview:
    case TagPremiereText: case TagLastChanceText: case TagDisplayName:
        return "ss";
    case TagCredit: return "nssn";
    case TagDate: case TagUrl: case TagChannelUrl: return "s";
    case TagLength: return "n";
    case TagIcon: case TagChannelIcon: return "snn";
    case TagEpisodeNum: case TagSubtitles: case TagPreviouslyShown: return "ss";
    case TagVideo: return "nss";
    case TagAudio: return "ns";
    case TagRating: case TagStarRating: return "ssi";
    default: return nullptr;
    }
}

/// Walks a record, calling onTag(tag) then onField(kind, value) for every field in order.
/// Returns false on malformed data (unknown tag, truncated varint).
///
/// Programme records in a file number strings by first use: a string field of 0 is "the next
/// string not seen before" and any other value v is string v - 1. With `nextNew` set (to the
/// record's first new string id) the walk resolves those, so onField always sees plain ids.
template<typename OnTag, typename OnField>
bool walkRecord(const quint8 *data, qsizetype size, OnTag &&onTag, OnField &&onField, quint32 *nextNew = nullptr)
{
    auto resolve = [nextNew](char kind, quint64 v) -> quint64 {
        if (kind != 's' || !nextNew)
            return v;
        return v == 0 ? (*nextNew)++ : v - 1;
    };
    qsizetype pos = 0;
    while (pos < size) {
        const quint8 tag = data[pos++];
        const char *layout = tagLayout(tag);
        if (!layout)
            return false;
        onTag(tag);
        for (const char *f = layout; *f; ++f) {
            quint64 v = 0;
            if (!getVarint(data, size, &pos, &v))
                return false;
            if (*f != 'i') {
                onField(*f, resolve(*f, v));
                continue;
            }
            onField('n', v);
            if (v > 1000)
                return false;
            for (quint64 k = 0; k < v * 3; ++k) {
                quint64 w = 0;
                if (!getVarint(data, size, &pos, &w))
                    return false;
                const char kind = k % 3 == 0 ? 's' : 'n';
                onField(kind, resolve(kind, w));
            }
        }
    }
    return true;
}

} // namespace iptv::epg::format
