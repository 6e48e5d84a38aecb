#pragma once

// Joins an M3U lineup (what the box can play) to the guide's channels (what the guide knows),
// giving the box its channel list: lineup order and numbers, guide ids, names and icons.

#include "m3ureader.h"
#include "programme.h"

#include <QList>
#include <QString>
#include <QStringList>
#include <QStringView>
#include <QtGlobal>

namespace iptv::epg {

struct ChannelMatch
{
    enum class How : quint8 { ById, ByName, Unmapped };
    qsizetype lineupIndex = -1; ///< index into Lineup::entries
    QString guideChannelId;     ///< empty when unmapped
    How how = How::Unmapped;
    qint64 line = 0;            ///< the entry's line in the lineup, for the report
};

struct ChannelMapping
{
    QList<ChannelMatch> matches;          ///< one per lineup entry, lineup order
    /// The box's channel list, one per lineup entry in lineup order. A mapped entry carries the
    /// guide channel's id, display names (the lineup's own name appended when it differs) and icons;
    /// an unmapped one an id made from the entry (see ChannelMapper::map). Every channel has its
    /// number, group and streamUrl from the lineup. When several entries map one guide channel
    /// (HD and SD streams), the first gets its id and the others "<id>#2", "#3", ...: channels of
    /// their own with the same programmes (GuideBuilder::addChannelAlias, addMappedChannels).
    QList<Channel> channels;
    QStringList guideChannelsNotInLineup; ///< guide channel ids nothing in the lineup mapped to, guide order

    qsizetype mappedCount() const;
    qsizetype countBy(ChannelMatch::How how) const;
    /// Human-readable: counts, each unmapped entry with its line, guide channels mapped by several
    /// entries, channel numbers given twice, guide channels not in the lineup.
    QString report() const;
};

class ChannelMapper
{
public:
    /// Maps lineup entries to guide channels: first by tvg-id (exact, then case-insensitive), then by
    /// normalised name (tvg-name, then the #EXTINF name) against every display-name of the guide
    /// channels, then against the guide ids' name part ("RTEOne.ie" -> "rteone"), and last the
    /// entry's tvg-id normalised the same way (a tvg-id from another guide: "RTEOne.uk").
    /// Names that normalise to nothing or to digits only ("2") are never matched.
    /// Several entries may map to one guide channel (an HD and an SD stream); the report lists them.
    ///
    /// Numbers: an entry's own number is kept, even when another entry has it too (the report lists
    /// those). Entries without a number get, in lineup order, the numbers after the highest number
    /// in the whole lineup, so they never take a number a later entry asks for.
    ///
    /// Unmapped entries get a stable id: their tvg-id when they have one, else
    /// "<normalised name>.lineup" (or "<hash of the URL>.lineup" for a nameless entry), with
    /// "-2", "-3", ... appended when two entries would share it.
    static ChannelMapping map(const Lineup &lineup, const QList<Channel> &guideChannels);

    /// The key names are compared by: lower-cased (case-folded), accents removed ("É" -> "e"),
    /// "&" read as "and", spaces and punctuation dropped. Removed at the end, repeatedly: quality
    /// tags (HD, FHD, UHD, 4K, 8K, SD, HQ, HEVC, H264, H265, 720p, 1080i, 1080p, 2160p, 50fps,
    /// 60fps) and a two-letter country code written as a suffix (".uk", "(UK)", "[IE]"); removed at
    /// the start: a country prefix like "UK:", "UK |", "IE -". Kept: "+" and what follows, so a
    /// timeshift channel "E4 +1" ("e4+1") never maps to "E4" ("e4"), and "Sky Sports+" stays apart
    /// from "Sky Sports". A name made only of tags is kept as it is ("HD" -> "hd").
    /// "RTÉ One HD" -> "rteone", "UK: ITV +1 (HD)" -> "itv+1".
    static QString normaliseName(QStringView name);
};

} // namespace iptv::epg
