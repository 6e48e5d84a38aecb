#pragma once

// The iptvnext store (QtSql): SQLite by default, PostgreSQL (QPSQL) for a postgresql:// URI.
//
// Tables:
//   sources    one row per configured source: status of the last attempt and of the last success
//              (its report as JSON), and for a lineup its raw M3U bytes;
//   channels   (source, position, id, data)          data = CBOR of the Channel (codec.h)
//   programmes (source, channel, start, stop, data)  data = CBOR of the whole Programme
//   guides     the compiled guide files: version, checksum, path, created, window, counts.
// A source's channels and programmes are replaced in one transaction, only after a successful
// read, so a failed refresh never loses the previous data.
//
// A GuideStore is one database connection and must be used from the thread that opened it;
// the refresh worker opens its own.

#include <core/sqldatabase.h>
#include <epg/programme.h>

#include <QByteArray>
#include <QList>
#include <QString>

#include <QVariantList>

QT_BEGIN_NAMESPACE
class QSqlQuery;
QT_END_NAMESPACE

#include <functional>
#include <memory>
#include <optional>

namespace iptv::next {

struct SourceRecord
{
    QString key;          ///< the source as configured (path or URL)
    QString kind;         ///< "xmltv" or "m3u"
    qint64 lastAttempt = 0;
    qint64 lastSuccess = 0;
    bool lastOk = false;
    QString lastError;
    QByteArray lastReport; ///< JSON of the last attempt's outcome (diagnostics included)
    qint64 channelCount = 0;   ///< of the stored (last successful) data
    qint64 programmeCount = 0;
};

struct GuideVersion
{
    qint64 version = 0;
    QByteArray checksum;
    QString path;
    qint64 createdAt = 0;
    qint64 validFrom = 0;
    qint64 validUntil = 0;
    qint64 fileSize = 0;
    qint64 channels = 0;
    qint64 airings = 0;
    qint64 programmes = 0;
    bool isValid() const { return version > 0; }
};

class GuideStore
{
public:
    GuideStore();
    ~GuideStore();
    GuideStore(const GuideStore &) = delete;
    GuideStore &operator=(const GuideStore &) = delete;

    /// `location` is a file path (SQLite) or postgresql://user:pass@host:port/db. Creates the schema.
    bool open(const QString &location, QString *error);
    void close();
    bool isOpen() const;
    QString driverName() const;

    /// Streams a source's new data into an open transaction; commit() swaps it in with the
    /// success record, rollback() (or destruction) leaves the previous data untouched. Rows are
    /// inserted in chunks as they arrive, so memory stays bounded for any guide size.
    class SourceWriter
    {
    public:
        ~SourceWriter();
        bool addChannel(const iptv::epg::Channel &channel);
        bool addProgramme(const iptv::epg::Programme &programme);
        bool commit(const QByteArray &content, qint64 when, const QByteArray &reportJson);
        void rollback();
        bool isActive() const { return m_active; }
        QString error() const { return m_error; }
        qint64 channelCount() const { return m_channels; }
        qint64 programmeCount() const { return m_programmes; }

    private:
        friend class GuideStore;
        SourceWriter(GuideStore *store, QString key, QString kind);
        bool flushProgrammes() { return flush(m_programmeInsert, &m_pendingProgrammes, QStringLiteral("insert programmes")); }
        bool flushChannels() { return flush(m_channelInsert, &m_pendingChannels, QStringLiteral("insert channels")); }
        bool flush(iptv::SqlBatchInsert &insert, QList<QVariantList> *rows, const QString &what);
        bool fail(const QString &what, const QString &why);

        GuideStore *m_store;
        QString m_key, m_kind;
        bool m_active = false;
        QString m_error;
        qint64 m_channels = 0, m_programmes = 0;
        QList<QVariantList> m_pendingProgrammes, m_pendingChannels;
        iptv::SqlBatchInsert m_programmeInsert, m_channelInsert;
    };
    /// Starts replacing a source's data (a transaction). Check isActive()/error().
    std::unique_ptr<SourceWriter> beginReplace(const QString &key, const QString &kind);

    /// Replaces a source's data in one transaction and records the success.
    bool replaceSource(const QString &key, const QString &kind, const QList<iptv::epg::Channel> &channels,
                       const QList<iptv::epg::Programme> &programmes, const QByteArray &content, qint64 when,
                       const QByteArray &reportJson, QString *error);
    /// Records a failed attempt; the stored data stays as it was.
    bool recordFailure(const QString &key, const QString &kind, qint64 when, const QString &message,
                       const QByteArray &reportJson, QString *error);

    /// Records an attempt that found the source unchanged upstream (HTTP 304): a success that
    /// keeps the stored data.
    bool recordUnchanged(const QString &key, qint64 when, QString *error);

    std::optional<SourceRecord> source(const QString &key, QString *error = nullptr);
    QList<SourceRecord> sources(QString *error = nullptr);
    QByteArray sourceContent(const QString &key, QString *error = nullptr);

    /// Stored programmes of a source in [from, until) (a programme without a stop counts when it
    /// starts in it), and the channels they are on.
    bool countInWindow(const QString &key, qint64 from, qint64 until, qint64 *programmes, qint64 *channels,
                       QString *error);

    bool loadChannels(const QString &key, QList<iptv::epg::Channel> *out, QString *error);
    /// Streams a source's programmes (by channel, start) to `sink`; returns false on a database
    /// error or a record that cannot be decoded.
    bool forEachProgramme(const QString &key, const std::function<void(iptv::epg::Programme &&)> &sink,
                          QString *error);

    /// Records a compiled guide; its version is the next number. Returns the version or 0.
    qint64 addGuide(GuideVersion guide, QString *error);
    /// Newest first.
    QList<GuideVersion> guides(QString *error = nullptr);
    bool removeGuide(qint64 version, QString *error);

private:
    bool createSchema(QString *error);

    QString m_connection;
    bool m_postgres = false;
};

} // namespace iptv::next
