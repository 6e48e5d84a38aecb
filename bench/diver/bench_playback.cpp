// Playback start on a busy recorder node (issue 14: "request to first segment served p99 <= 50 ms
// with 100 recordings running"), measured from outside, against the diver process over HTTP.
//
//   bench_playback guide --out FILE --channels 100 --source 'http://127.0.0.1:18740/live/c%1.ts'
//       writes a guide of N channels c001… whose streams are the headend's, each with hourly
//       programmes from two hours ago to six hours ahead (diver reads it with --guide-file);
//   bench_playback play --diver http://127.0.0.1:18750 --channels 100 --rounds 1000 [--wait 120]
//       records what is on now on every channel (one operator request each, one owner a channel),
//       waits until every recording has written a segment, then starts playback ROUNDS times on
//       a random recording: GET its playlist, then its first segment, whole. One playback start
//       is the time from sending the first request to the last byte of the segment. Prints one
//       JSON object: p50/p95/p99/max in ms, bytes, and the recordings diver reports running.

#include <epg/guide.h>
#include <epg/guidewriter.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRandomGenerator>
#include <QTextStream>
#include <QTimer>

#include <algorithm>
#include <cstdio>

namespace {

QString channelId(int i) { return QStringLiteral("c%1").arg(i, 3, 10, QLatin1Char('0')); }

int writeGuide(const QString &out, int channels, const QString &source)
{
    iptv::epg::GuideData data;
    const qint64 hour = QDateTime::currentSecsSinceEpoch() / 3600 * 3600;
    for (int i = 1; i <= channels; ++i) {
        iptv::epg::Channel ch;
        ch.id = channelId(i);
        ch.displayNames = {{QString(), QStringLiteral("Bench %1").arg(i)}};
        ch.streamUrl = source.arg(i, 3, 10, QLatin1Char('0'));
        data.channels.append(ch);
        for (qint64 t = hour - 2 * 3600; t < hour + 6 * 3600; t += 3600) {
            iptv::epg::Programme p;
            p.channelId = ch.id;
            p.start = t;
            p.stop = t + 3600;
            p.titles = {{QString(), QStringLiteral("Programme %1 at %2").arg(i).arg(t)}};
            data.programmes.append(p);
        }
    }
    const qint64 from = hour - 3 * 3600;
    iptv::epg::GuideBuilder builder({.from = from, .days = 1, .compressionLevel = 1, .createdAt = from});
    builder.addGuide(data);
    QFile f(out);
    if (!f.open(QIODevice::WriteOnly) || f.write(builder.finish()) <= 0) {
        std::fprintf(stderr, "bench_playback: cannot write %s: %s\n", qPrintable(out), qPrintable(f.errorString()));
        return 1;
    }
    return 0;
}

struct Http
{
    QNetworkAccessManager nam;

    /// Runs one request to its end; status 0 when the connection failed.
    QNetworkReply *run(QNetworkReply *reply)
    {
        QEventLoop loop;
        QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
        if (!reply->isFinished())
            loop.exec();
        return reply;
    }
    QByteArray get(const QUrl &url, int *status)
    {
        QNetworkReply *r = run(nam.get(QNetworkRequest(url)));
        *status = r->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        const QByteArray body = r->readAll();
        r->deleteLater();
        return body;
    }
    QByteArray post(const QUrl &url, const QJsonObject &body, int *status)
    {
        QNetworkRequest req(url);
        req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        QNetworkReply *r = run(nam.post(req, QJsonDocument(body).toJson(QJsonDocument::Compact)));
        *status = r->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        const QByteArray out = r->readAll();
        r->deleteLater();
        return out;
    }
};

double percentile(QList<double> v, double p)
{
    if (v.isEmpty())
        return 0;
    std::sort(v.begin(), v.end());
    return v.at(std::min<qsizetype>(v.size() - 1, qsizetype(p * double(v.size() - 1) + 0.5)));
}

int play(const QString &base, int channels, int rounds, int waitSeconds)
{
    Http http;
    QTextStream err(stderr);
    const qint64 hour = QDateTime::currentSecsSinceEpoch() / 3600 * 3600;
    for (int i = 1; i <= channels; ++i) {
        int status = 0;
        const QByteArray body = http.post(QUrl(base + u"/api/recordings"_qs),
                                          {{u"kind"_qs, u"single"_qs}, {u"channel"_qs, channelId(i)}, {u"start"_qs, hour},
                                           {u"owner"_qs, QStringLiteral("BENCH-%1").arg(i, 3, 10, QLatin1Char('0'))}},
                                          &status);
        if (status != 201) {
            err << "bench_playback: recording " << channelId(i) << " refused (" << status << "): " << body << Qt::endl;
            return 1;
        }
    }
    // Until every recording has a segment to play.
    QStringList ids;
    QElapsedTimer waited;
    waited.start();
    for (;;) {
        int status = 0;
        const QJsonArray list = QJsonDocument::fromJson(http.get(QUrl(base + u"/api/recordings"_qs), &status))
                                    .object().value(u"recordings"_qs).toArray();
        ids.clear();
        int ready = 0;
        for (const QJsonValue &v : list) {
            const QJsonObject o = v.toObject();
            ids.append(QString::number(o.value(u"id"_qs).toInteger()));
            ready += o.value(u"state"_qs).toString() == u"recording" && o.value(u"segments"_qs).toInt() >= 1;
        }
        if (ready >= channels)
            break;
        if (waited.elapsed() > waitSeconds * 1000LL) {
            err << "bench_playback: after " << waitSeconds << " s only " << ready << " of " << channels
                << " recordings have a segment" << Qt::endl;
            return 1;
        }
        err << "  " << ready << "/" << channels << " recordings have a segment" << Qt::endl;
        // Another process's progress: asked again in a second.
        QEventLoop pause;
        QTimer::singleShot(1000, &pause, &QEventLoop::quit);
        pause.exec();
    }

    QList<double> starts, playlists;
    qint64 bytes = 0;
    int failures = 0;
    for (int n = 0; n < rounds; ++n) {
        const QString id = ids.at(QRandomGenerator::global()->bounded(int(ids.size())));
        QElapsedTimer t;
        t.start();
        int status = 0;
        const QByteArray playlist = http.get(QUrl(base + u"/play/"_qs + id + u"/index.m3u8"_qs), &status);
        const double playlistMs = double(t.nsecsElapsed()) / 1e6;
        QString first;
        for (const QByteArray &line : playlist.split('\n')) {
            if (!line.isEmpty() && !line.startsWith('#')) {
                first = QString::fromUtf8(line.trimmed());
                break;
            }
        }
        if (status != 200 || first.isEmpty()) {
            ++failures;
            continue;
        }
        const QUrl segment = QUrl(base + u"/play/"_qs + id + u"/index.m3u8"_qs).resolved(QUrl(first));
        const QByteArray data = http.get(segment, &status);
        const double ms = double(t.nsecsElapsed()) / 1e6;
        if (status != 200 || data.isEmpty()) {
            ++failures;
            continue;
        }
        bytes += data.size();
        starts.append(ms);
        playlists.append(playlistMs);
    }
    int status = 0;
    const QJsonObject st = QJsonDocument::fromJson(http.get(QUrl(base + u"/api/status"_qs), &status)).object();
    const QJsonObject out{{u"rounds"_qs, rounds},
                          {u"failures"_qs, failures},
                          {u"recordings"_qs, channels},
                          {u"status"_qs, st},
                          {u"start_ms_p50"_qs, percentile(starts, 0.50)},
                          {u"start_ms_p95"_qs, percentile(starts, 0.95)},
                          {u"start_ms_p99"_qs, percentile(starts, 0.99)},
                          {u"start_ms_max"_qs, percentile(starts, 1.0)},
                          {u"playlist_ms_p50"_qs, percentile(playlists, 0.50)},
                          {u"playlist_ms_p99"_qs, percentile(playlists, 0.99)},
                          {u"mean_segment_bytes"_qs, starts.isEmpty() ? 0 : double(bytes) / double(starts.size())}};
    QTextStream(stdout) << QJsonDocument(out).toJson(QJsonDocument::Compact) << Qt::endl;
    return failures == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    parser.addPositionalArgument(u"mode"_qs, u"guide | play"_qs);
    parser.addOption({u"out"_qs, u"guide: the file to write"_qs, u"file"_qs});
    parser.addOption({u"source"_qs, u"guide: stream URL, %1 = channel number (001…)"_qs, u"url"_qs});
    parser.addOption({u"channels"_qs, u"channels (and recordings)"_qs, u"n"_qs, u"100"_qs});
    parser.addOption({u"diver"_qs, u"play: diver's base URL"_qs, u"url"_qs});
    parser.addOption({u"rounds"_qs, u"play: playback starts measured"_qs, u"n"_qs, u"1000"_qs});
    parser.addOption({u"wait"_qs, u"play: seconds to wait for every recording's first segment"_qs, u"s"_qs, u"180"_qs});
    parser.process(app);
    const QString mode = parser.positionalArguments().value(0);
    const int channels = parser.value(u"channels"_qs).toInt();
    if (mode == u"guide" && !parser.value(u"out"_qs).isEmpty() && parser.value(u"source"_qs).contains(u"%1"))
        return writeGuide(parser.value(u"out"_qs), channels, parser.value(u"source"_qs));
    if (mode == u"play" && !parser.value(u"diver"_qs).isEmpty())
        return play(parser.value(u"diver"_qs), channels, parser.value(u"rounds"_qs).toInt(), parser.value(u"wait"_qs).toInt());
    parser.showHelp(2);
}
