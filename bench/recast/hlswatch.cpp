// hlswatch: a client of ReCast's HLS output for the benchmarks (issue 12).
//
//   hlswatch check --base http://127.0.0.1:8440 --duration 600
//       Every second, reloads every media playlist of every channel (found through /api/channels)
//       and reads it with checkMediaPlaylist (RFC 8216, literally) and checkReload against the
//       previous load. Prints each problem as it is seen, and a JSON summary at the end.
//   hlswatch latency --url http://127.0.0.1:8440/live/ch/720p/index.m3u8 --count 60
//       LL-HLS: blocking playlist reloads (_HLS_msn/_HLS_part), one per part; for each answer,
//       the time it arrived minus the wall-clock end of the newest part it lists (the segment's
//       EXT-X-PROGRAM-DATE-TIME plus the durations before it). JSON: p50, p90, max (ms).

#include <media/hlsplaylist.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <map>
#include <vector>

using namespace iptv::media;

namespace {

[[noreturn]] void fail(const QString &what)
{
    std::fprintf(stderr, "hlswatch: %s\n", qPrintable(what));
    std::exit(2);
}

struct Answer
{
    int status = 0;
    QByteArray body;
    QString error;
};

Answer get(QNetworkAccessManager &net, const QUrl &url, int timeoutMs = 10000)
{
    QNetworkRequest request(url);
    request.setTransferTimeout(timeoutMs);
    QNetworkReply *reply = net.get(request);
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    loop.exec();
    Answer a;
    a.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    a.body = reply->readAll();
    if (reply->error() != QNetworkReply::NoError)
        a.error = reply->errorString();
    reply->deleteLater();
    return a;
}

double percentile(std::vector<double> v, double p)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5))];
}

int check(QNetworkAccessManager &net, const QString &base, int durationS)
{
    const Answer channels = get(net, QUrl(base + QStringLiteral("/api/channels")));
    if (channels.status != 200)
        fail(QStringLiteral("GET %1/api/channels: %2 %3").arg(base).arg(channels.status).arg(channels.error));
    QJsonArray list = QJsonDocument::fromJson(channels.body).array();
    if (list.isEmpty())
        list = QJsonDocument::fromJson(channels.body).object().value(QLatin1String("channels")).toArray();
    QStringList urls;
    for (const QJsonValue &c : list) {
        const QString id = c.toObject().value(QLatin1String("id")).toString();
        for (const QJsonValue &r : c.toObject().value(QLatin1String("renditions")).toArray())
            urls.append(QStringLiteral("%1/live/%2/%3/index.m3u8").arg(base, id, r.toString()));
    }
    if (urls.isEmpty())
        fail(QStringLiteral("no playlists listed by %1/api/channels").arg(base));

    std::map<QString, HlsCheck> previous;
    qint64 loads = 0, invalid = 0, reloadProblems = 0, unavailable = 0, discontinuities = 0;
    QJsonArray examples;
    auto note = [&](const QString &url, const QString &what) {
        std::fprintf(stderr, "%s %s: %s\n", qPrintable(QDateTime::currentDateTimeUtc().toString(Qt::ISODate)),
                     qPrintable(url), qPrintable(what));
        if (examples.size() < 20)
            examples.append(QString(url + QLatin1String(": ") + what));
    };
    QElapsedTimer t;
    t.start();
    qint64 round = 0;
    while (t.elapsed() < qint64(durationS) * 1000) {
        for (const QString &url : urls) {
            const Answer a = get(net, QUrl(url));
            if (a.status == 503) { // the channel has no segment yet (stopped and started again)
                ++unavailable;
                continue;
            }
            if (a.status != 200) {
                ++unavailable;
                note(url, QStringLiteral("HTTP %1 %2").arg(a.status).arg(a.error));
                continue;
            }
            ++loads;
            const HlsCheck c = checkMediaPlaylist(a.body);
            if (!c.ok) {
                ++invalid;
                note(url, c.problems.join(QLatin1String("; ")));
            }
            auto it = previous.find(url);
            if (it != previous.end()) {
                const QStringList problems = checkReload(it->second, c);
                if (!problems.isEmpty()) {
                    ++reloadProblems;
                    note(url, QStringLiteral("reload: ") + problems.join(QLatin1String("; ")));
                }
                discontinuities += qMax<qint64>(0, c.discontinuitySequence - it->second.discontinuitySequence);
            }
            previous[url] = c;
        }
        ++round;
        const qint64 next = round * 1000 - t.elapsed();
        if (next > 0) {
            QEventLoop wait;
            QTimer::singleShot(int(next), &wait, &QEventLoop::quit);
            wait.exec();
        }
    }
    const QJsonObject result{
        {QStringLiteral("playlists"), int(urls.size())},
        {QStringLiteral("seconds"), t.elapsed() / 1000.0},
        {QStringLiteral("loads"), loads},
        {QStringLiteral("invalid"), invalid},
        {QStringLiteral("reloadProblems"), reloadProblems},
        {QStringLiteral("unavailable"), unavailable},
        {QStringLiteral("discontinuitiesLeft"), discontinuities},
        {QStringLiteral("examples"), examples},
    };
    std::fputs(QJsonDocument(result).toJson(QJsonDocument::Compact).constData(), stdout);
    std::fputc('\n', stdout);
    return invalid || reloadProblems ? 1 : 0;
}

int latency(QNetworkAccessManager &net, const QString &url, int count)
{
    Answer a = get(net, QUrl(url));
    if (a.status != 200)
        fail(QStringLiteral("GET %1: %2 %3").arg(url).arg(a.status).arg(a.error));
    HlsCheck c = checkMediaPlaylist(a.body);
    if (c.partTarget <= 0)
        fail(QStringLiteral("%1 has no EXT-X-PART-INF: not an LL-HLS playlist").arg(url));
    std::vector<double> samples;
    QJsonArray all;
    while (int(samples.size()) < count) {
        const qint64 msn = c.mediaSequence + c.segments.size();
        const int part = int(c.partsInProgress.size());
        a = get(net, QUrl(url + QStringLiteral("?_HLS_msn=%1&_HLS_part=%2").arg(msn).arg(part)));
        const qint64 arrivedMs = QDateTime::currentMSecsSinceEpoch();
        if (a.status != 200)
            fail(QStringLiteral("blocking reload of %1 (msn %2, part %3): %4 %5").arg(url).arg(msn).arg(part).arg(a.status).arg(a.error));
        c = checkMediaPlaylist(a.body);
        if (c.segments.isEmpty() || !c.segments.last().programDateTime.isValid())
            fail(QStringLiteral("%1: the newest segment has no EXT-X-PROGRAM-DATE-TIME").arg(url));
        const HlsSegment &last = c.segments.last();
        double endS = last.duration;
        for (const HlsPart &p : c.partsInProgress)
            endS += p.duration;
        const double ms = double(arrivedMs - last.programDateTime.toMSecsSinceEpoch()) - endS * 1000;
        samples.push_back(ms);
        all.append(qRound(ms));
    }
    const QJsonObject result{
        {QStringLiteral("url"), url},
        {QStringLiteral("partTarget"), c.partTarget},
        {QStringLiteral("count"), int(samples.size())},
        {QStringLiteral("p50"), percentile(samples, 0.5)},
        {QStringLiteral("p90"), percentile(samples, 0.9)},
        {QStringLiteral("max"), *std::max_element(samples.begin(), samples.end())},
        {QStringLiteral("samplesMs"), all},
    };
    std::fputs(QJsonDocument(result).toJson(QJsonDocument::Compact).constData(), stdout);
    std::fputc('\n', stdout);
    return 0;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Checks ReCast's playlists over time (check) or measures LL-HLS part latency (latency)."));
    parser.addHelpOption();
    parser.addPositionalArgument(QStringLiteral("mode"), QStringLiteral("check or latency"));
    parser.addOptions({
        {QStringLiteral("base"), QStringLiteral("check: recast's base URL."), QStringLiteral("url")},
        {QStringLiteral("duration"), QStringLiteral("check: seconds (default 60)."), QStringLiteral("s"), QStringLiteral("60")},
        {QStringLiteral("url"), QStringLiteral("latency: a media playlist URL."), QStringLiteral("url")},
        {QStringLiteral("count"), QStringLiteral("latency: answers (default 60)."), QStringLiteral("n"), QStringLiteral("60")},
    });
    parser.process(app);
    QNetworkAccessManager net;
    const QString mode = parser.positionalArguments().value(0);
    if (mode == QLatin1String("check"))
        return check(net, parser.value(QStringLiteral("base")), parser.value(QStringLiteral("duration")).toInt());
    if (mode == QLatin1String("latency"))
        return latency(net, parser.value(QStringLiteral("url")), parser.value(QStringLiteral("count")).toInt());
    fail(QStringLiteral("the mode is check or latency"));
}
