#pragma once

// The ingest-side guide model: what an XMLTV file or a lineup says, field for field.
// The XMLTV reader fills it, the XMLTV writer prints it back, the guide compiler packs it into
// the compact box format (guidewriter.h) and the SQL store keeps it between refreshes.

#include <QList>
#include <QString>
#include <QStringList>
#include <QtGlobal>

namespace iptv::epg {

/// A text with the language it is in (XMLTV `lang` attribute; empty when not given).
struct LangText
{
    QString lang;
    QString text;
    friend bool operator==(const LangText &, const LangText &) = default;
};

struct Icon
{
    QString src;
    int width = 0;
    int height = 0;
    friend bool operator==(const Icon &, const Icon &) = default;
};

struct Credit
{
    /// In XMLTV DTD order, which is also the order the writer prints them in.
    enum class Role : quint8 {
        Director, Actor, Writer, Adapter, Producer, Composer, Editor, Presenter, Commentator, Guest
    };
    Role role = Role::Actor;
    QString name;
    QString character; ///< actor `role` attribute
    bool guest = false; ///< actor `guest="yes"`
    friend bool operator==(const Credit &, const Credit &) = default;
};

struct EpisodeNum
{
    QString system; ///< "xmltv_ns", "onscreen", "dd_progid", ... (XMLTV default: "onscreen")
    QString value;
    friend bool operator==(const EpisodeNum &, const EpisodeNum &) = default;
};

struct Rating
{
    QString system;
    QString value;
    QList<Icon> icons;
    friend bool operator==(const Rating &, const Rating &) = default;
};

struct Subtitles
{
    QString type; ///< teletext, onscreen, deaf-signed (empty when not given)
    QString lang;
    friend bool operator==(const Subtitles &, const Subtitles &) = default;
};

struct Video
{
    bool present = true;  ///< <present>no</present> makes it false
    bool hasPresent = false;
    bool colour = true;
    bool hasColour = false;
    QString aspect;
    QString quality;
    bool isSet() const { return hasPresent || hasColour || !aspect.isEmpty() || !quality.isEmpty(); }
    friend bool operator==(const Video &, const Video &) = default;
};

struct Audio
{
    bool present = true;
    bool hasPresent = false;
    QString stereo; ///< mono, stereo, dolby, dolby digital, bilingual, surround
    bool isSet() const { return hasPresent || !stereo.isEmpty(); }
    friend bool operator==(const Audio &, const Audio &) = default;
};

/// Per-airing facts that are not part of what the programme is.
struct AiringFlags
{
    bool isNew = false;
    bool previouslyShown = false;
    QString previouslyShownStart;   ///< XMLTV timestamp text, kept verbatim
    QString previouslyShownChannel;
    bool premiere = false;
    LangText premiereText;
    bool lastChance = false;
    LangText lastChanceText;
    friend bool operator==(const AiringFlags &, const AiringFlags &) = default;
};

struct Channel
{
    QString id;                    ///< XMLTV channel id
    QList<LangText> displayNames;  ///< first is the preferred name
    QList<Icon> icons;
    QStringList urls;

    // From an M3U lineup, when the channel was mapped to one (empty otherwise).
    int number = 0;       ///< tvg-chno / logical channel number; 0 = none
    QString group;        ///< group-title
    QString streamUrl;

    QString name() const { return displayNames.isEmpty() ? id : displayNames.first().text; }
    friend bool operator==(const Channel &, const Channel &) = default;
};

/// Where an entry was read (source and line), for diagnostics that must point at the input.
/// Not part of what the entry is: two origins always compare equal, so a programme read again
/// from another line or file is still the same programme.
struct SourceOrigin
{
    QString source;
    qint64 line = 0; ///< 1-based; 0 when not known
    bool isKnown() const { return line > 0 || !source.isEmpty(); }
    /// "source:line" (either part left out when unknown).
    QString toString() const
    {
        if (line <= 0)
            return source;
        return source.isEmpty() ? QStringLiteral("line %1").arg(line) : QStringLiteral("%1:%2").arg(source).arg(line);
    }
    friend bool operator==(const SourceOrigin &, const SourceOrigin &) { return true; }
};

struct Programme
{
    QString channelId;
    qint64 start = 0; ///< UTC, seconds since the epoch
    qint64 stop = 0;  ///< UTC seconds; 0 when the source gave none (filled from the next start)
    int startUtcOffset = 0; ///< the source's offset in seconds, so an export prints the same local time

    QList<LangText> titles;
    QList<LangText> subTitles;
    QList<LangText> descs;
    QList<Credit> credits;
    QString date;                  ///< production date, XMLTV form (e.g. "2016" or "20160412")
    QList<LangText> categories;
    QList<LangText> keywords;
    LangText language;
    LangText origLanguage;
    int lengthSeconds = 0;         ///< <length>, normalised to seconds; 0 = none
    QList<Icon> icons;
    QStringList urls;
    QList<LangText> countries;
    QList<EpisodeNum> episodeNums;
    Video video;
    Audio audio;
    QList<Subtitles> subtitles;
    QList<Rating> ratings;
    QList<Rating> starRatings;     ///< value like "3/5"
    QList<LangText> reviews;       ///< text reviews only
    AiringFlags airing;
    SourceOrigin origin;           ///< where it was read; never compared

    QString title() const { return titles.isEmpty() ? QString() : titles.first().text; }
    qint64 duration() const { return stop > start ? stop - start : 0; }
    friend bool operator==(const Programme &, const Programme &) = default;
};

/// A whole guide as ingested: channels in source order, programmes in any order.
struct GuideData
{
    QList<Channel> channels;
    QList<Programme> programmes;
    QString generatorName; ///< <tv generator-info-name>
    QString sourceInfoName;
};

} // namespace iptv::epg
