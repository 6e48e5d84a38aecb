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

/// The string table keeps like with like: strings grouped by what they are, which compresses
/// better than the order of first use. A string's group is the record field that introduces
/// it (the first to use it); strings no programme record introduces are group 0.
enum StringGroup : quint8 {
    GroupUnintroduced = 0, ///< the empty string, the generator, channel strings
    GroupTitle = 1,
    GroupSubTitle = 2,
    GroupDescription = 3,
    GroupCredit = 4,       ///< names and characters
    GroupEpisode = 5,      ///< episode-num values
    GroupLink = 6,         ///< icon sources and urls
    GroupOther = 7,        ///< languages, categories, dates, ratings, ...
    GroupCount = 8,
};

/// Group of a string introduced by field `field` (0-based, counting every value walkRecord
/// reports for the tag, icon list counts included) of a programme record's `tag`.
inline StringGroup stringGroup(quint8 tag, int field)
{
    switch (tag) {
    case TagTitle: return field == 1 ? GroupTitle : GroupOther;
    case TagSubTitle: return field == 1 ? GroupSubTitle : GroupOther;
    case TagDesc: return field == 1 ? GroupDescription : GroupOther;
    case TagCredit: return GroupCredit;
    case TagEpisodeNum: return field == 1 ? GroupEpisode : GroupOther;
    case TagIcon: case TagUrl: return GroupLink;
    case TagRating: case TagStarRating: return field >= 3 ? GroupLink : GroupOther; // icon sources
    default: return GroupOther;
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
