#pragma once

// The controlserver store (QtSql): SQLite by default, PostgreSQL (QPSQL) for a postgresql:// URI,
// with the same SQL for both. The schema is created (and migrated) at open.
//
// Tables:
//   meta            key/value: schema version, the server's hashing key
//   boxes           identity, credentials (keyed hashes), enrollment state, release channel, tags,
//                   last seen, last software version / current channel, the latest telemetry (CBOR)
//   telemetry       bounded history: (box, time, CBOR), pruned by age
//   events          bounded: (box, time, kind, severity, text, CBOR data), pruned by age and count
//   commands        one row per (command, box): batch, kind, args (CBOR), state, a timestamp per
//                   state, expiry, issuer, result text/data
//   operators       account, Argon2id password hash, role, disabled
//   operator_tokens keyed hash of a bearer token, account, expiry
//   audit           who, what, target, when, outcome, detail
//
// Writes that must survive a kill (issued commands, audit entries, enrollment and approvals) are
// committed before the call returns. High-rate writes (telemetry, last-seen, events, command
// state changes reported by boxes) are queued in memory and written by flush() in one
// transaction, never one transaction per message.
//
// A ControlStore is one database connection, used from the thread that opened it.

#include "domain/states.h"

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QString>
#include <QStringList>
#include <QVariantList>

QT_BEGIN_NAMESPACE
class QSqlQuery;
QT_END_NAMESPACE

#include <functional>
#include <optional>
#include <utility>

namespace iptv::control {

struct BoxRow
{
    qint64 id = 0;
    QString serial;
    QString mac;
    QString model;
    QByteArray secretHash;
    QByteArray tokenHash;
    BoxState state = BoxState::Pending;
    QString releaseChannel = QStringLiteral("clean");
    QStringList tags;
    QString softwareVersion;
    QString currentChannel;
    qint64 enrolledAt = 0;
    qint64 lastSeen = 0;
    QByteArray telemetry; ///< latest, CBOR map as the box sent it
};

struct CommandRow
{
    qint64 id = 0;
    qint64 batchId = 0;
    qint64 boxId = 0;
    QString kind;
    QByteArray args; ///< CBOR map
    CommandState state = CommandState::Queued;
    qint64 created = 0;
    qint64 delivered = 0;
    qint64 acknowledged = 0;
    qint64 finished = 0;
    qint64 expires = 0;
    QString issuedBy;
    QString resultText;
    QByteArray resultData;
    QString resultMime;
};

struct OperatorRow
{
    QString account;
    QByteArray passwordHash;
    QString role;
    qint64 created = 0;
    bool disabled = false;
};

struct AuditRow
{
    qint64 id = 0;
    qint64 time = 0;
    QString account;
    QString action;
    QString target;
    QString outcome; ///< ok | denied | failed
    QString detail;
};

struct TelemetrySample
{
    qint64 time = 0;
    QByteArray data;
};

struct EventRow
{
    qint64 id = 0;
    qint64 boxId = 0;
    qint64 time = 0;
    QString kind;
    QString severity;
    QString text;
    QByteArray data;
};

struct CommandQuery
{
    qint64 batchId = 0;
    qint64 boxId = 0;
    std::optional<CommandState> state;
    int limit = 100;
    int offset = 0;
};

class ControlStore
{
public:
    ControlStore();
    ~ControlStore();
    ControlStore(const ControlStore &) = delete;
    ControlStore &operator=(const ControlStore &) = delete;

    /// `location` is a file path (SQLite) or postgresql://user:pass@host:port/db. Creates the schema.
    bool open(const QString &location, QString *error);
    void close();
    bool isOpen() const;
    bool isPostgres() const { return m_postgres; }
    QString lastError() const { return m_lastError; }

    QByteArray meta(const QString &key);
    bool setMeta(const QString &key, const QByteArray &value, QString *error);

    // ---- boxes (committed at once)
    /// Inserts a box; sets row->id. Fails (Conflict) when the serial exists.
    /// First contact: the box row and its audit entry in one transaction, one commit (the
    /// entry's target is the new box's id as `targetOf` writes it).
    bool enrollBox(BoxRow *row, AuditRow *audit, QString (*targetOf)(qint64), QString *error);
    bool insertBox(BoxRow *row, QString *error);
    bool updateBoxIdentity(qint64 id, const QString &mac, const QString &model, const QByteArray &secretHash,
                           QString *error);
    bool setBoxState(qint64 id, BoxState state, const QByteArray &tokenHash, QString *error);
    bool setBoxToken(qint64 id, const QByteArray &tokenHash, QString *error);
    bool setBoxTags(qint64 id, const QStringList &tags, QString *error);
    bool setBoxReleaseChannel(qint64 id, const QString &channel, QString *error);
    QList<BoxRow> loadBoxes(QString *error);
    /// The rows of these ids that exist (without the telemetry blob), a few hundred per query.
    QList<BoxRow> loadBoxes(const QList<qint64> &ids, QString *error);
    std::optional<BoxRow> box(qint64 id, QString *error = nullptr);

    // ---- queued, written by flush()
    void queueBoxSeen(qint64 boxId, qint64 lastSeen, const QString &softwareVersion, const QString &currentChannel,
                      const QByteArray &telemetry);
    void queueTelemetry(qint64 boxId, qint64 time, const QByteArray &data);
    void queueEvent(const EventRow &event);
    void queueCommandState(qint64 commandId, CommandState state, qint64 when, const QString &resultText = {},
                           const QByteArray &resultData = {}, const QString &resultMime = {});
    qsizetype pendingWrites() const;
    /// Writes what is queued in one transaction; boxes' last-seen rows only `withLatest`. On
    /// failure the transaction is rolled back and everything stays queued for the next flush.
    bool flush(QString *error, bool withLatest = true);
    /// Transactions flush() has committed.
    qint64 flushCount() const { return m_flushCount; }
    /// Telemetry samples, and events, queued at most (each); past it the oldest are dropped and
    /// counted, so a store that stays down cannot grow the queues without bound. Command state
    /// changes are never dropped (there are at most as many as live commands).
    void setQueueLimit(qsizetype rows) { m_queueLimit = rows; }
    struct QueueLosses
    {
        qint64 telemetry = 0;
        qint64 events = 0;
    };
    /// Rows dropped from the queues since the last call.
    QueueLosses takeDropped() { return std::exchange(m_dropped, {}); }

    // ---- telemetry and events (reads include what is queued, so none needs a flush first)
    QList<TelemetrySample> telemetry(qint64 boxId, qint64 since, int limit, QString *error);
    /// Newest first; events not flushed yet come first, with id 0.
    QList<EventRow> events(qint64 boxId, int limit, QString *error);
    /// Deletes telemetry older than `telemetryBefore`, events older than `eventsBefore`, and events
    /// beyond `maxEventsPerBox` of the boxes that received events since the last prune.
    bool prune(qint64 telemetryBefore, qint64 eventsBefore, int maxEventsPerBox, QString *error);

    // ---- commands
    /// Inserts the rows in one transaction (ids assigned; the batch id is the first row's id
    /// unless set). Committed when it returns true.
    bool insertCommands(QList<CommandRow> *rows, QString *error);
    /// Every command not in a final state (loaded at start).
    QList<CommandRow> activeCommands(QString *error);
    /// Queued state changes included (with a state filter, paging past the first page is approximate).
    QList<CommandRow> commands(const CommandQuery &query, bool withData, QString *error);
    /// Queued state changes included.
    std::optional<CommandRow> command(qint64 id, bool withData, QString *error = nullptr);
    /// The queued and delivered commands of these boxes (without result data), a few hundred
    /// boxes per query.
    QList<CommandRow> deliverableCommands(const QList<qint64> &boxIds, QString *error);
    /// These commands (without result data), a few hundred per query; unknown ids left out.
    QList<CommandRow> commands(const QList<qint64> &ids, QString *error);
    QHash<QString, qint64> commandCountsByState(QString *error);

    // ---- operators
    bool insertOperator(const OperatorRow &row, QString *error);
    bool updateOperator(const OperatorRow &row, QString *error);
    std::optional<OperatorRow> operatorAccount(const QString &account, QString *error = nullptr);
    QList<OperatorRow> operators(QString *error);
    qint64 operatorCount(QString *error);
    bool insertOperatorToken(const QByteArray &tokenHash, const QString &account, qint64 expires, QString *error);
    /// The account of an unexpired token, or empty.
    QString tokenAccount(const QByteArray &tokenHash, qint64 now, QString *error = nullptr);
    bool deleteOperatorToken(const QByteArray &tokenHash, QString *error);
    bool deleteOperatorTokens(const QString &account, QString *error);
    bool pruneOperatorTokens(qint64 now, QString *error);

    // ---- audit (committed at once)
    bool appendAudit(AuditRow *row, QString *error);
    QList<AuditRow> audit(const QString &account, int limit, int offset, QString *error);

private:
    bool exec(const QString &sql, QString *error);
    bool createSchema(QString *error);
    bool fail(const QString &what, const QString &why, QString *error);
    /// Queued command state changes applied to rows read from the table.
    void applyQueued(QList<CommandRow> *rows, bool withData) const;
    /// `select` (up to FROM) for these ids, 500 a query; each row to `read`.
    bool selectByIds(const QString &select, const QList<qint64> &ids, const std::function<void(const QSqlQuery &)> &read,
                     const QString &what, QString *error, const QString &idColumn = QStringLiteral("id"));

    QString m_connection;
    bool m_postgres = false;
    QString m_lastError;

    struct Seen
    {
        qint64 lastSeen = 0;
        QString softwareVersion;
        QString currentChannel;
        QByteArray telemetry;
    };
    struct CommandUpdate
    {
        qint64 id = 0;
        CommandState state = CommandState::Queued;
        qint64 when = 0;
        QString resultText;
        QByteArray resultData;
        QString resultMime;
    };
    qint64 m_flushCount = 0;
    QHash<qint64, Seen> m_seen;
    QList<std::pair<qint64, TelemetrySample>> m_telemetry;
    QList<EventRow> m_events;
    qsizetype m_queueLimit = 200000;
    QueueLosses m_dropped;
    QList<CommandUpdate> m_commandUpdates;
    QList<qint64> m_eventBoxes; ///< boxes that got events since the last prune
};

} // namespace iptv::control
