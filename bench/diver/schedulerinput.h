#pragma once

// What the scheduler benchmarks plan (bench_scheduler, bench_diverapi): a generated guide with
// programme ids, compiled once and kept, and 10,000 series rules drawn from its shows.

#include <dvr/rule.h>
#include <epg/guide.h>
#include <epg/guidegenerator.h>
#include <epg/guidewriter.h>

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QHash>
#include <QRandomGenerator>
#include <QRegularExpression>

#include <cstdio>
#include <vector>

namespace benchinput {

using namespace iptv;

/// A programme id like the scheduler tests add (tests/dvr/schedulerfixture.h): the generator has
/// none, and series-id rules need them.
inline void addProgrammeId(epg::Programme &p)
{
    QString ns;
    for (const epg::EpisodeNum &e : std::as_const(p.episodeNums))
        if (e.system == u"xmltv_ns")
            ns = e.value;
    if (ns.isEmpty())
        return;
    const QByteArray h = QCryptographicHash::hash(p.title().toUtf8(), QCryptographicHash::Md5);
    const quint32 series = (quint32(quint8(h[0])) << 16 | quint32(quint8(h[1])) << 8 | quint8(h[2])) % 100000000;
    const QStringList parts = ns.split(u'.');
    const int season = parts.value(0).section(u'/', 0, 0).toInt(), episode = parts.value(1).section(u'/', 0, 0).toInt();
    const int number = (season * 500 + episode) % 9999 + 1;
    p.episodeNums.append({QStringLiteral("dd_progid"),
                          QStringLiteral("EP%1.%2").arg(series, 8, 10, QLatin1Char('0')).arg(number, 4, 10, QLatin1Char('0'))});
}

/// The base guide, or (changed) the same with a schedule change on every 50th channel: ten
/// programmes of its second day retitled, moved 5 minutes later, or removed (in turn).
/// `start`: its first second (UTC; 0: the generator's fixed Monday).
inline QByteArray compileGuide(int channels, int days, quint64 seed, bool changed, qint64 start = 0)
{
    epg::GuideGenerator generator({.channels = channels, .days = days, .start = start, .seed = seed});
    epg::GuideBuilder builder({.from = generator.windowStart(), .days = days, .compressionLevel = 3,
                               .createdAt = generator.windowStart()});
    QString channelId;
    int channel = -1, changedHere = 0, changes = 0;
    generator.generate([&](const epg::Channel &c) { builder.addChannel(c); },
                       [&](epg::Programme &&p) {
                           if (p.channelId != channelId) {
                               channelId = p.channelId;
                               ++channel;
                               changedHere = 0;
                           }
                           addProgrammeId(p);
                           if (changed && channel % 50 == 7 && changedHere < 10
                               && p.start >= generator.windowStart() + 86400) {
                               ++changedHere;
                               switch (changes++ % 3) {
                               case 0: p.titles = {{QString(), p.title() + u" (changed)"}}; break;
                               case 1: p.start += 300; break;
                               case 2: return; // removed
                               }
                           }
                           builder.addProgramme(p);
                       });
    return builder.finish();
}

/// compileGuide()'s guide, kept in `dir` and read from there when it is (a 1000 x 14 compile
/// takes a while).
inline QByteArray cachedGuide(const QString &dir, int channels, int days, quint64 seed, bool changed, qint64 start = 0)
{
    QString path = QStringLiteral("%1/scheduler-%2x%3-s%4-%5.guide")
                       .arg(dir)
                       .arg(channels)
                       .arg(days)
                       .arg(seed)
                       .arg(changed ? u"changed"_qs : u"base"_qs);
    if (start != 0)
        path.replace(u".guide"_qs, QStringLiteral("-from%1.guide").arg(start));
    QFile f(path);
    if (f.open(QIODevice::ReadOnly))
        return f.readAll();
    std::fprintf(stderr, "compiling %s ...\n", qPrintable(path));
    const QByteArray bytes = compileGuide(channels, days, seed, changed, start);
    QDir().mkpath(dir);
    if (f.open(QIODevice::WriteOnly))
        f.write(bytes);
    return bytes;
}

/// `count` series rules, each for a series drawn uniformly from the guide's episodic titles (a
/// viewer records a show, not an airing: drawing airings would favour the news and the daily
/// strips that air hundreds of times): half by series id, the rest by title but 1% by regex; a
/// quarter limited to one channel, a fifth to a time window, a fifth new-only; random priority,
/// padding, keep and duplicate scope. Deterministic for a seed.
inline QList<dvr::RecordingRule> makeRules(const epg::Guide &g, int count, quint64 seed, int *series)
{
    QRandomGenerator rng(quint32(seed * 7919));
    // One airing per distinct episodic title, in guide order.
    QHash<QString, quint32> seen;
    std::vector<quint32> shows;
    for (quint32 i = 0; i < g.airingCount(); ++i) {
        const epg::Airing a = g.airing(i);
        if (g.episode(a.programme).isEmpty())
            continue;
        const QString title = g.title(a.programme);
        if (!seen.contains(title)) {
            seen.insert(title, i);
            shows.push_back(i);
        }
    }
    *series = int(shows.size());
    QList<dvr::RecordingRule> rules;
    const qint64 day0 = g.info().validFrom;
    for (int i = 0; i < count; ++i) {
        const epg::Airing a = g.airing(shows[rng.bounded(quint32(shows.size()))]);
        const epg::Programme p = g.programmeRecord(a);
        dvr::RecordingRule r;
        r.id = i + 1;
        r.created = day0 - 100000 + rng.bounded(100000);
        QString progid;
        for (const epg::EpisodeNum &e : p.episodeNums)
            if (e.system == u"dd_progid")
                progid = e.value;
        const int kind = rng.bounded(100);
        if (kind < 50 && !progid.isEmpty()) {
            r.kind = dvr::RuleKind::SeriesId;
            r.seriesId = progid;
        } else if (kind == 99) {
            r.kind = dvr::RuleKind::Regex;
            r.pattern = u'^' + QRegularExpression::escape(p.title()) + u"\\b";
        } else {
            r.kind = dvr::RuleKind::Title;
            r.title = p.title();
        }
        if (rng.bounded(4) == 0)
            r.channelId = g.channelId(int(a.channel));
        if (rng.bounded(5) == 0)
            r.window = {quint8(rng.bounded(1, 128)), rng.bounded(24) * 60, rng.bounded(24) * 60, {}};
        r.newOnly = rng.bounded(5) == 0;
        r.keep = rng.bounded(4) == 0 ? rng.bounded(1, 10) : 0;
        r.duplicateScope = rng.bounded(10) == 0 ? dvr::DuplicateScope::AllRules : dvr::DuplicateScope::Rule;
        r.priority = rng.bounded(4);
        r.prePadding = rng.bounded(3) * 60;
        r.postPadding = rng.bounded(4) * 120;
        rules.append(r);
    }
    return rules;
}


} // namespace benchinput
