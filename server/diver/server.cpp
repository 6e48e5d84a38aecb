#include "server.h"

#include <dvr/playout.h>
#include <dvr/playoutthumbnails.h>
#include <dvr/retention.h>

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QLoggingCategory>
#include <QMetaEnum>
#include <QRegularExpression>

Q_LOGGING_CATEGORY(lcDiver, "iptv.diver.server", QtInfoMsg)

namespace iptv::diver {

using http::Reply;
using http::RouteContext;
using Method = http::Router::Method;

static qint64 nowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

DiverServer::DiverServer(DiverConfig config, QObject *parent)
    : QObject(parent)
    , m_config(std::move(config))
    , m_pool(m_config.storage, m_config.minFreeBytes)
{
    m_router = new http::Router(&m_metrics, QStringLiteral("diver"), this);
    connect(&m_retentionTimer, &QTimer::timeout, this, [this] { runRetention(0); });
}

DiverServer::~DiverServer()
{
    stop();
}

quint16 DiverServer::port() const
{
    return m_router->port();
}

QString DiverServer::archiveDirectory(const QString &channel) const
{
    const auto it = m_archives.find(channel);
    return it == m_archives.end() ? QString() : it->second.directory;
}

const dvr::Recorder *DiverServer::archiveRecorder(const QString &channel) const
{
    const auto it = m_archives.find(channel);
    return it == m_archives.end() ? nullptr : it->second.recorder.get();
}

bool DiverServer::start(QString *error)
{
    for (const QString &path : m_config.storage) {
        if (!QDir().mkpath(path)) {
            *error = QStringLiteral("storage path %1 cannot be created").arg(path);
            return false;
        }
    }
    for (const ArchivedChannel &c : m_config.channels) {
        // An archive stays on the disk it started on; a new one goes where there is most room.
        const QString relative = QStringLiteral("archive/") + c.id;
        QString why;
        const std::optional<QString> dir = m_pool.place(relative, 0, &why);
        if (!dir) {
            *error = QStringLiteral("archive of %1: %2").arg(c.id, why);
            return false;
        }
        Archive &a = m_archives[c.id];
        a.config = c;
        a.directory = *dir;
        a.recorder = std::make_unique<dvr::Recorder>();
        a.recorder->setSpaceRecovery([this](qint64 need) { return runRetention(need); });
        dvr::RecorderSettings s;
        s.source = c.source;
        s.directory = *dir;
        s.chunkMs = m_config.chunkMs;
        s.segmentSeconds = m_config.segmentSeconds;
        s.minFreeBytes = m_config.minFreeBytes;
        if (!a.recorder->start(s, error)) {
            *error = QStringLiteral("archive of %1: %2").arg(c.id, *error);
            return false;
        }
        const QString id = c.id;
        const dvr::Recorder *recorder = a.recorder.get();
        m_metrics.gaugeCallback(QStringLiteral("diver_archive_up"), QStringLiteral("1 while the archive records"),
                                [recorder] { return recorder->state() == dvr::Recorder::State::Recording ? 1.0 : 0.0; },
                                {{QStringLiteral("channel"), id}});
        m_metrics.gaugeCallback(QStringLiteral("diver_archive_segments"), QStringLiteral("segments written since start"),
                                [recorder] { return double(recorder->stats().segments); }, {{QStringLiteral("channel"), id}});
        m_metrics.gaugeCallback(QStringLiteral("diver_archive_gaps"), QStringLiteral("gaps marked since start"),
                                [recorder] { return double(recorder->stats().gaps); }, {{QStringLiteral("channel"), id}});
        m_metrics.gaugeCallback(QStringLiteral("diver_archive_segments_lost"),
                                QStringLiteral("segments that could not be written since start"),
                                [recorder] { return double(recorder->stats().segmentsLost); }, {{QStringLiteral("channel"), id}});
        qCInfo(lcDiver).noquote() << "archiving" << c.id << "from" << c.source << "into" << *dir;
    }
    addRoutes();
    if (!m_router->listen(m_config.bindAddress, m_config.port, error))
        return false;
    m_retentionTimer.start(m_config.retentionIntervalMs);
    return true;
}

void DiverServer::stop()
{
    m_retentionTimer.stop();
    for (auto &[id, a] : m_archives)
        if (a.recorder)
            a.recorder->stop(true);
}

qint64 DiverServer::runRetention(qint64 needBytes)
{
    QMutexLocker lock(&m_retentionMutex);
    QList<dvr::RetainedArchive> archives;
    for (const auto &[id, a] : m_archives)
        archives.append({a.directory, qint64(a.config.archiveHours * 3.6e6)});
    // Viewers' recordings (ranges that pin chunks) come with Diver's recording store.
    const QList<dvr::RetainedRecording> kept;
    const dvr::RetentionPlan plan = needBytes > 0 ? dvr::Retention::planForSpace(archives, kept, nowMs(), needBytes)
                                                  : dvr::Retention::plan(archives, kept, nowMs());
    QStringList errors;
    const qint64 freed = dvr::Retention::apply(plan, &errors);
    for (const QString &e : errors)
        qCWarning(lcDiver).noquote() << e;
    return freed;
}

static QJsonObject archiveJson(const QString &id, const QString &dir, const dvr::Recorder &recorder)
{
    dvr::ArchiveReader reader;
    QString error;
    reader.load(dir, &error);
    const dvr::Recorder::Stats st = recorder.stats();
    return {{QStringLiteral("id"), id},
            {QStringLiteral("directory"), dir},
            {QStringLiteral("state"), QString::fromLatin1(QMetaEnum::fromType<dvr::Recorder::State>().valueToKey(int(recorder.state())))},
            {QStringLiteral("reason"), recorder.reason()},
            {QStringLiteral("start_ms"), reader.startMs()},
            {QStringLiteral("end_ms"), reader.endMs()},
            {QStringLiteral("chunks"), qint64(reader.chunks().size())},
            {QStringLiteral("segments"), qint64(st.segments)},
            {QStringLiteral("gaps"), qint64(st.gaps)},
            {QStringLiteral("reconnects"), qint64(st.reconnects)},
            {QStringLiteral("segments_lost"), qint64(st.segmentsLost)}};
}

void DiverServer::addRoutes()
{
    http::Router *r = m_router;
    r->setDefaultHeader("Cache-Control", "no-store");
    r->addRoute(Method::Get, QStringLiteral("/healthz"), [this](RouteContext &) {
        QJsonArray down;
        for (const auto &[id, a] : m_archives)
            if (a.recorder->state() != dvr::Recorder::State::Recording)
                down.append(QJsonObject{{QStringLiteral("channel"), id}, {QStringLiteral("reason"), a.recorder->reason()}});
        return Reply::json({{QStringLiteral("status"), down.isEmpty() ? QStringLiteral("ok") : QStringLiteral("degraded")},
                            {QStringLiteral("not_recording"), down}});
    });
    r->addRoute(Method::Get, QStringLiteral("/metrics"), [this](RouteContext &) {
        return Reply{200, m_metrics.render(), "text/plain; version=0.0.4; charset=utf-8", {}, {}, {}};
    });
    r->addRoute(Method::Get, QStringLiteral("/api/archives"), [this](RouteContext &) {
        QJsonArray list;
        for (const auto &[id, a] : m_archives)
            list.append(archiveJson(id, a.directory, *a.recorder));
        return Reply::json({{QStringLiteral("archives"), list}});
    });
    r->addRoute(Method::Get, QStringLiteral("/archive/<channel>/<file>"), [this](RouteContext &ctx) {
        const auto it = m_archives.find(ctx.params[0]);
        if (it == m_archives.end())
            return Reply::error(404, QStringLiteral("not_found"), QStringLiteral("no archive of channel %1").arg(ctx.params[0]));
        const QString &name = ctx.params[1];
        if (name.startsWith(QLatin1String("thumbnails-")))
            return thumbnails(it->second, name, {});
        return playlist(it->second, name);
    });
    r->addRoute(Method::Get, QStringLiteral("/archive/<channel>/<chunk>/<file>"), [this](RouteContext &ctx) {
        const auto it = m_archives.find(ctx.params[0]);
        if (it == m_archives.end())
            return Reply::error(404, QStringLiteral("not_found"), QStringLiteral("no archive of channel %1").arg(ctx.params[0]));
        return file(it->second, ctx.params[1], ctx.params[2], ctx.request);
    });
}

Reply DiverServer::playlist(const Archive &archive, const QString &name)
{
    const std::optional<dvr::TimeRange> range = dvr::parseArchiveRange(name, nowMs());
    if (!range)
        return Reply::error(404, QStringLiteral("not_found"),
                            QStringLiteral("%1 is not a playlist of this archive: archive-<start>-<seconds>.m3u8 or "
                                           "archive-<start>-now.m3u8")
                                .arg(name));
    dvr::ArchiveReader reader;
    QString error;
    if (!reader.load(archive.directory, range->fromMs, range->toMs, &error))
        return Reply::error(500, QStringLiteral("archive_unreadable"), error);
    if (reader.segments(range->fromMs, range->toMs).isEmpty())
        return Reply::error(404, QStringLiteral("not_recorded"),
                            QStringLiteral("the archive of %1 holds nothing from %2 to %3 (it holds %4 to %5)")
                                .arg(archive.config.id,
                                     QDateTime::fromMSecsSinceEpoch(range->fromMs, Qt::UTC).toString(Qt::ISODate),
                                     QDateTime::fromMSecsSinceEpoch(range->toMs, Qt::UTC).toString(Qt::ISODate),
                                     QDateTime::fromMSecsSinceEpoch(reader.startMs(), Qt::UTC).toString(Qt::ISODate),
                                     QDateTime::fromMSecsSinceEpoch(reader.endMs(), Qt::UTC).toString(Qt::ISODate)));
    const bool live = name.contains(QLatin1String("-now"));
    // "-now" follows the live edge: never ended, so the player reloads it.
    const QByteArray text = live ? dvr::playoutPlaylist(reader.segments(range->fromMs, range->toMs), false)
                                 : dvr::archiveRangePlaylist(reader, *range, nowMs());
    return Reply{200, text, "application/vnd.apple.mpegurl", {}, {}, {}};
}

Reply DiverServer::thumbnails(const Archive &archive, const QString &name, const QString &prefix)
{
    static const QRegularExpression re(QStringLiteral(R"(^thumbnails-(\d{1,12})-(\d{1,9})\.vtt$)"));
    const QRegularExpressionMatch m = re.match(name);
    if (!m.hasMatch())
        return Reply::error(404, QStringLiteral("not_found"), QStringLiteral("%1: thumbnails-<start>-<seconds>.vtt").arg(name));
    const qint64 from = m.captured(1).toLongLong() * 1000;
    const qint64 to = from + m.captured(2).toLongLong() * 1000;
    dvr::ArchiveReader reader;
    QString error;
    if (!reader.load(archive.directory, from, to, &error))
        return Reply::error(500, QStringLiteral("archive_unreadable"), error);
    const QList<dvr::ArchiveSegment> segments = reader.segments(from, to);
    const QList<dvr::Thumbnail> thumbs = dvr::ensureThumbnails(archive.directory, segments, 10000, 160, &error);
    if (thumbs.isEmpty() && !segments.isEmpty())
        return Reply::error(500, QStringLiteral("thumbnails_failed"), error);
    const qint64 origin = segments.isEmpty() ? from : segments.first().startMs;
    const qint64 end = segments.isEmpty() ? to : segments.last().endMs();
    return Reply{200, dvr::thumbnailTrack(thumbs, origin, end, prefix), "text/vtt; charset=utf-8", {}, {}, {}};
}

Reply DiverServer::file(const Archive &archive, const QString &chunk, const QString &name, const QHttpServerRequest &request)
{
    static const QRegularExpression chunkName(QStringLiteral(R"(^\d{8}T\d{6}Z$)"));
    static const QRegularExpression fileName(QStringLiteral(R"(^(seg-\d{1,12}\.ts|thumb-\d{1,12}\.jpg)$)"));
    if (!chunkName.match(chunk).hasMatch() || !fileName.match(name).hasMatch())
        return Reply::error(404, QStringLiteral("not_found"), QStringLiteral("no file %1/%2 in an archive").arg(chunk, name));
    QFile f(QDir(archive.directory).filePath(chunk + QLatin1Char('/') + name));
    if (!f.open(QIODevice::ReadOnly))
        return Reply::error(404, QStringLiteral("not_found"),
                            QStringLiteral("%1/%2 is not in the archive of %3 (retention may have deleted it)")
                                .arg(chunk, name, archive.config.id));
    const QByteArray mime = name.endsWith(QLatin1String(".ts")) ? "video/mp2t" : "image/jpeg";
    const qint64 size = f.size();
    // Segments never change once written: cacheable for good; byte ranges for players that seek
    // inside one (RFC 9110 14).
    const QByteArray range = request.value("Range");
    Reply reply{200, {}, mime, {}, {}, {}};
    reply.addHeader("Cache-Control", "public, max-age=31536000, immutable");
    reply.addHeader("Accept-Ranges", "bytes");
    if (range.isEmpty()) {
        reply.body = f.readAll();
        return reply;
    }
    static const QRegularExpression rangeRe(QStringLiteral(R"(^bytes=(\d*)-(\d*)$)"));
    const QRegularExpressionMatch m = rangeRe.match(QString::fromLatin1(range.trimmed()));
    qint64 first = -1, last = -1;
    if (m.hasMatch() && !(m.captured(1).isEmpty() && m.captured(2).isEmpty())) {
        if (m.captured(1).isEmpty()) { // the last N bytes
            first = qMax<qint64>(0, size - m.captured(2).toLongLong());
            last = size - 1;
        } else {
            first = m.captured(1).toLongLong();
            last = m.captured(2).isEmpty() ? size - 1 : qMin(size - 1, m.captured(2).toLongLong());
        }
    }
    if (!m.hasMatch()) { // several ranges or another unit: the whole file (RFC 9110 14.2 allows ignoring Range)
        reply.body = f.readAll();
        return reply;
    }
    if (first < 0 || first >= size || last < first) {
        Reply bad = Reply::error(416, QStringLiteral("range_not_satisfiable"),
                                 QStringLiteral("%1 of a file of %2 bytes").arg(QString::fromLatin1(range)).arg(size));
        bad.addHeader("Content-Range", "bytes */" + QByteArray::number(size));
        return bad;
    }
    f.seek(first);
    reply.status = 206;
    reply.body = f.read(last - first + 1);
    reply.addHeader("Content-Range", "bytes " + QByteArray::number(first) + '-' + QByteArray::number(last) + '/' + QByteArray::number(size));
    return reply;
}

} // namespace iptv::diver
