#pragma once

// A small compiled guide for the Hubris tests: channels numbered 1, 2, 3, 10, 11 and 101 with
// hour-long programmes "<channel> h<N>" over two days from kDay0, written to a temporary file.
// Programmes from 21:00 to midnight are rated FSK 18, the others FSK 6. Sub-titles hold markup
// ("<b>Part N</b> & more"): guide text is shown as it is, never as rich text.

#include <epg/guidewriter.h>

#include <QTemporaryDir>

namespace testguide {

constexpr qint64 kDay0 = 1767571200; // 2026-01-05T00:00:00Z
inline const QList<int> kNumbers = {1, 2, 3, 10, 11, 101};

inline QString write(const QTemporaryDir &dir, const QString &name = QStringLiteral("test.guide"))
{
    using namespace iptv::epg;
    GuideBuilder builder({.from = kDay0, .days = 2, .compressionLevel = 3, .createdAt = kDay0});
    for (int i = 0; i < kNumbers.size(); ++i) {
        Channel c;
        c.id = QStringLiteral("ch%1.test").arg(kNumbers[i]);
        c.displayNames = {{{}, QStringLiteral("Channel %1").arg(kNumbers[i])}};
        c.number = kNumbers[i];
        c.group = i < 3 ? QStringLiteral("General") : QStringLiteral("Other");
        c.streamUrl = i == 4 ? QString() : QStringLiteral("http://127.0.0.1:9/live/ch%1.ts").arg(kNumbers[i]);
        builder.addChannel(c);
        for (int h = 0; h < 48; ++h) {
            Programme p;
            p.channelId = c.id;
            p.start = kDay0 + h * 3600;
            p.stop = p.start + 3600;
            p.titles = {{{}, QStringLiteral("%1 h%2").arg(c.name()).arg(h)}};
            p.subTitles = {{{}, QStringLiteral("<b>Part %1</b> & more").arg(h)}};
            p.descs = {{{}, QStringLiteral("Hour %1 on %2.").arg(h).arg(c.name())}};
            p.ratings = {{QStringLiteral("FSK"), h % 24 >= 21 ? QStringLiteral("18") : QStringLiteral("6"), {}}};
            builder.addProgramme(p);
        }
    }
    const QString path = dir.filePath(name);
    QString error;
    if (!builder.finishToFile(path, &error))
        qFatal("cannot write the test guide: %s", qPrintable(error));
    return path;
}

} // namespace testguide
