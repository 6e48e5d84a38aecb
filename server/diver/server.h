#pragma once

// diver's server: one rolling archive per configured channel (a Recorder per channel, hourly
// chunks on the storage path with the most free space), retention on a timer and whenever a disk
// falls below its minimum free space, and playout over HTTP:
//
//   GET /archive/<channel>/archive-<start>-<seconds>.m3u8   catch-up: a range of the archive
//   GET /archive/<channel>/archive-<start>-now.m3u8         from <start> to the live edge (timeshift)
//   GET /archive/<channel>/thumbnails-<start>-<seconds>.vtt  scrubbing thumbnails of a range
//   GET /archive/<channel>/<chunk>/seg-<n>.ts, thumb-<n>.jpg  segments (HTTP byte ranges) and thumbnails
//   GET /api/archives                                       the archives and their recorders' state
//   GET /healthz, GET /metrics
//
// Recording requests, rules and the scheduler (the other half of Diver) come on top of this.

#include "config.h"

#include <core/httprouter.h>
#include <core/metrics.h>
#include <dvr/recorder.h>
#include <dvr/storage.h>

#include <QMutex>
#include <QObject>
#include <QTimer>

#include <map>
#include <memory>

namespace iptv::diver {

class DiverServer : public QObject
{
    Q_OBJECT
public:
    explicit DiverServer(DiverConfig config, QObject *parent = nullptr);
    ~DiverServer() override;

    /// Starts the archives and listens; false with *error (no storage, port taken).
    bool start(QString *error);
    /// Finishes every archive's segment in progress.
    void stop();
    quint16 port() const;

    /// The folder of `channel`'s archive (empty for an unknown channel).
    QString archiveDirectory(const QString &channel) const;
    const dvr::Recorder *archiveRecorder(const QString &channel) const;

private:
    struct Archive
    {
        ArchivedChannel config;
        QString directory;
        std::unique_ptr<dvr::Recorder> recorder;
    };

    void addRoutes();
    http::Reply playlist(const Archive &archive, const QString &name);
    http::Reply thumbnails(const Archive &archive, const QString &name, const QString &prefix);
    http::Reply file(const Archive &archive, const QString &chunk, const QString &name, const QHttpServerRequest &request);
    /// Retention over every archive; needBytes > 0: also under space pressure. Any thread.
    qint64 runRetention(qint64 needBytes);

    DiverConfig m_config;
    dvr::StoragePool m_pool;
    MetricsRegistry m_metrics;
    http::Router *m_router = nullptr;
    std::map<QString, Archive> m_archives;
    QMutex m_retentionMutex;
    QTimer m_retentionTimer;
};

} // namespace iptv::diver
