#pragma once

// M3U / M3U8 channel lineups, as IPTV providers and operators write them:
//
//   #EXTM3U x-tvg-url="http://example/guide.xml.gz"
//   #EXTINF:-1 tvg-id="RTEOne.ie" tvg-chno="1" group-title="Ireland",RTÉ One HD
//   http://example/live/rteone.m3u8
//
// The reader is forgiving in the way players are (missing header, CRLF, BOM, single, double or no
// quotes, Latin-1 lines inside a UTF-8 file) and says what it forgave: every problem becomes a
// diagnostic with its line, and the good entries are kept.

#include <core/diagnostic.h>

#include <QByteArray>
#include <QList>
#include <QMap>
#include <QString>
#include <QStringList>
#include <QtGlobal>

namespace iptv::epg {

struct M3uEntry
{
    QString name;            ///< text after the comma of #EXTINF, trimmed
    QString tvgId, tvgName, tvgLogo, groupTitle;
    int channelNumber = 0;   ///< tvg-chno (also "channel-number", "tvg-num"); 0 = none
    double duration = -1;    ///< #EXTINF duration (-1 for live streams)
    QString url;             ///< the stream URL line
    /// catchup (or catchup-type), catchup-source, catchup-days (or timeshift / tvg-rec, in days).
    QString catchup, catchupSource;
    int catchupDays = 0;
    /// Every attribute as given, keys lower-cased. #EXTVLCOPT:key=value lines are kept as
    /// "vlcopt:key", #KODIPROP:key=value as "kodiprop:key", #EXTGRP as "extgrp".
    QMap<QString, QString> attributes;
    qint64 line = 0;         ///< line of the #EXTINF (of the URL when there was none)
};

struct Lineup
{
    QList<M3uEntry> entries;
    QStringList guideUrls;   ///< x-tvg-url / url-tvg / tvg-url of #EXTM3U, split at commas, in order, no duplicates
};

class M3uReader
{
public:
    /// Longest line accepted; longer lines are reported and skipped (a lineup line is a URL or an
    /// #EXTINF with a handful of attributes, so anything this long is not one).
    static constexpr qsizetype MaxLineLength = 64 * 1024;

    /// Reads a lineup file. *ok is false only when the file could not be read at all; problems
    /// inside the file are diagnostics, and the entries that could be read are returned.
    static Lineup readFile(const QString &path, iptv::DiagnosticList *diagnostics, bool *ok = nullptr);
    /// Parses lineup bytes; sourceName is what diagnostics name as their source.
    static Lineup parse(const QByteArray &bytes, const QString &sourceName, iptv::DiagnosticList *diagnostics);
};

} // namespace iptv::epg
