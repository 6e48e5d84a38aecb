#pragma once

// diver (the network DVR) in-process for the Hubris DVR tests: a guide around the real clock
// (diver plans against now), written once and opened by both diver and the box, and diver
// checking tickets with a test key (or fetching the control server's key).

#include "../common/diverticket.h"

#include <config.h>
#include <diverserver.h>

#include <epg/guidewriter.h>
#include <payload/keys.h>
#include <protocol/boxticket.h>

#include <QDateTime>
#include <QTemporaryDir>

namespace dvrtest {

/// Where programme 0 of writeGuide() starts (UTC s): programme 4 started ten minutes before the
/// guide was written, so a test has twenty minutes before what is on now changes.
inline qint64 &guideBase()
{
    static qint64 base = 0;
    return base;
}
/// The start of programme `k` (0-15) of writeGuide(), plus a minute: a time inside it.
inline qint64 during(int k)
{
    return guideBase() + k * 1800 + 60;
}

/// The suite's channel N: id "chN", named "Channel N", number N, streamed from `streamUrl`.
inline iptv::epg::Channel testChannel(int n, const QString &streamUrl)
{
    iptv::epg::Channel c;
    c.id = QStringLiteral("ch%1").arg(n);
    c.displayNames = {{{}, QStringLiteral("Channel %1").arg(n)}};
    c.number = n;
    c.streamUrl = streamUrl;
    return c;
}

/// Channels "ch1", "ch2", "ch3" (numbers 1-3) with half-hour programmes "Channel N h<k>" (k 0-15,
/// programme 4 on now), every third one "Series N". `streamUrl(id)` gives each channel's stream.
inline QString writeGuide(const QString &path, const std::function<QString(const QString &)> &streamUrl)
{
    using namespace iptv::epg;
    const qint64 hour = QDateTime::currentSecsSinceEpoch() / 3600 * 3600;
    guideBase() = QDateTime::currentSecsSinceEpoch() - 600 - 4 * 1800;
    GuideBuilder builder({.from = hour - 86400, .days = 2, .compressionLevel = 1, .createdAt = hour - 86400});
    for (int n = 1; n <= 3; ++n) {
        const Channel c = testChannel(n, streamUrl(QStringLiteral("ch%1").arg(n)));
        builder.addChannel(c);
        for (int k = 0; k < 16; ++k) {
            Programme p;
            p.channelId = c.id;
            p.start = guideBase() + k * 1800;
            p.stop = p.start + 1800;
            const QString title = k % 3 == 0 ? QStringLiteral("Series %1").arg(n) : QStringLiteral("Channel %1 h%2").arg(n).arg(k);
            p.titles = {{{}, title}};
            p.descs = {{{}, QStringLiteral("Half hour %1 on channel %2.").arg(k).arg(n)}};
            builder.addProgramme(p);
        }
    }
    QString error;
    if (!builder.finishToFile(path, &error))
        qFatal("cannot write the DVR test guide: %s", qPrintable(error));
    return path;
}

/// A ticket for `serial` signed with `key`, for diver, valid `validFor` seconds.
inline QByteArray ticket(const iptv::payload::SigningKey &key, const QString &serial, qint64 validFor = 600)
{
    return testutil::diverTicket(key, serial, validFor);
}

/// diver's configuration for a test: loopback, a free port, short segments, no disk reserve.
inline iptv::diver::DiverConfig config(const QTemporaryDir &dir, const QString &guideFile)
{
    iptv::diver::DiverConfig c;
    c.bindAddress = QHostAddress::LocalHost;
    c.port = 0;
    c.dataDir = dir.filePath(QStringLiteral("diver"));
    c.guideFile = guideFile;
    c.adminToken = QStringLiteral("operator-secret");
    c.segmentSeconds = 1;
    c.minFreeBytes = 0;
    c.capacity = 2;
    return c;
}

/// The index of the airing of guide channel `channel` at `t` (UTC s).
inline int airingAt(const iptv::epg::Guide &guide, int channel, qint64 t)
{
    return int(guide.airingAt(channel, t).index);
}

} // namespace dvrtest
