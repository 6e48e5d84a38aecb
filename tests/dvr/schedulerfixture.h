#pragma once

// Guides for the scheduler tests: small hand-made ones (a few channels, programmes placed to the
// minute) and generated ones (GuideGenerator) with Schedules Direct-style programme ids added to
// episodic programmes, so series-id rules and the id duplicate layer have something to match.

#include <epg/guide.h>
#include <epg/guidegenerator.h>
#include <epg/guidewriter.h>

#include <QCryptographicHash>

#include <memory>

namespace iptv::dvr::test {

constexpr qint64 kDay0 = 1767571200; // 2026-01-05 00:00 UTC, a Monday
constexpr qint64 kHour = 3600;

struct Show
{
    QString channel;
    qint64 start = 0;
    int minutes = 30;
    QString title;
    QString subTitle;
    QString description;
    QString xmltvNs;  ///< e.g. "0.3." = S1 E4
    QString progid;   ///< dd_progid
    bool isNew = false;
    bool previouslyShown = false;
};

inline epg::Programme programmeOf(const Show &s)
{
    epg::Programme p;
    p.channelId = s.channel;
    p.start = s.start;
    p.stop = s.start + s.minutes * 60;
    p.titles = {{QString(), s.title}};
    if (!s.subTitle.isEmpty())
        p.subTitles = {{QString(), s.subTitle}};
    if (!s.description.isEmpty())
        p.descs = {{QString(), s.description}};
    if (!s.xmltvNs.isEmpty())
        p.episodeNums.append({QStringLiteral("xmltv_ns"), s.xmltvNs});
    if (!s.progid.isEmpty())
        p.episodeNums.append({QStringLiteral("dd_progid"), s.progid});
    p.airing.isNew = s.isNew;
    p.airing.previouslyShown = s.previouslyShown;
    return p;
}

inline std::shared_ptr<const epg::Guide> compile(const epg::GuideData &data, qint64 from = kDay0, int days = 14)
{
    epg::GuideBuilder builder({.from = from, .days = days, .compressionLevel = 1, .createdAt = from});
    builder.addGuide(data);
    QString error;
    auto guide = epg::Guide::fromBytes(builder.finish(), &error);
    Q_ASSERT_X(guide, "compile", qPrintable(error));
    return guide;
}

inline epg::GuideData guideData(const QStringList &channels, const QList<Show> &shows)
{
    epg::GuideData data;
    for (const QString &c : channels) {
        epg::Channel ch;
        ch.id = c;
        ch.displayNames = {{QString(), c}};
        data.channels.append(ch);
    }
    for (const Show &s : shows)
        data.programmes.append(programmeOf(s));
    return data;
}

inline std::shared_ptr<const epg::Guide> makeGuide(const QStringList &channels, const QList<Show> &shows)
{
    return compile(guideData(channels, shows));
}

/// Adds a dd_progid to every programme with an xmltv_ns episode number: "EP" + 8 digits from the
/// title + "." + 4 digits from season and episode, so repeats of an episode share it.
inline void addProgrammeIds(epg::GuideData *data)
{
    for (epg::Programme &p : data->programmes) {
        QString ns;
        for (const epg::EpisodeNum &e : std::as_const(p.episodeNums))
            if (e.system == u"xmltv_ns")
                ns = e.value;
        if (ns.isEmpty())
            continue;
        const QByteArray h = QCryptographicHash::hash(p.title().toUtf8(), QCryptographicHash::Md5);
        const quint32 series = (quint32(quint8(h[0])) << 16 | quint32(quint8(h[1])) << 8 | quint8(h[2])) % 100000000;
        const QStringList parts = ns.split(u'.');
        const int season = parts.value(0).section(u'/', 0, 0).toInt(), episode = parts.value(1).section(u'/', 0, 0).toInt();
        const int number = (season * 500 + episode) % 9999 + 1; // never 0000, the generic programme
        p.episodeNums.append({QStringLiteral("dd_progid"), QStringLiteral("EP%1.%2")
                                                              .arg(series, 8, 10, QLatin1Char('0'))
                                                              .arg(number, 4, 10, QLatin1Char('0'))});
    }
}

inline epg::GuideData generatedData(int channels, int days, quint64 seed = 1)
{
    epg::GuideGenerator generator({.channels = channels, .days = days, .start = kDay0, .seed = seed});
    epg::GuideData data = generator.generateAll();
    addProgrammeIds(&data);
    return data;
}

} // namespace iptv::dvr::test
