#pragma once

// Commands to one box, a selection or a filter: reboot, factory reset, tune, message, collect
// logs, screenshot (POST /api/commands), and moving boxes between the clean and experimental
// release channels (PUT /api/boxes/<id>/channel, a few requests in flight at a time). What the
// operator's role does not allow is refused here without a request.

#include "controlclient.h"

#include <QJsonObject>
#include <QList>
#include <QObject>

namespace iptv::cerberus {

/// Whom a command goes to.
struct CommandTarget
{
    enum class Kind : quint8 { Box, Boxes, Filter, All };
    Kind kind = Kind::Box;
    QList<qint64> boxes;     ///< Box: one; Boxes: the selection (or a text filter resolved to ids)
    QJsonObject filter;      ///< Filter: the server's fleet filter
    QString description;     ///< for confirmations and the log ("3 boxes", "model X, online")
    int expectedCount = 0;   ///< boxes the console expects it to reach (confirmation text)

    static CommandTarget box(qint64 id);
    static CommandTarget selection(const QList<qint64> &ids);
    static CommandTarget fleetFilter(const QJsonObject &filter, const QString &description, int expected);
    QJsonObject toJson() const;
};

class CommandController : public QObject
{
    Q_OBJECT
public:
    enum class Kind : quint8 { Reboot, FactoryReset, Tune, Message, CollectLogs, Screenshot };
    Q_ENUM(Kind)

    CommandController(ControlClient *client, QObject *parent = nullptr);

    static QString kindName(Kind kind);
    static QString kindTitle(Kind kind);
    /// Destructive commands the window must confirm (factory reset always; anything to many boxes).
    static bool needsConfirmation(Kind kind, const CommandTarget &target);
    bool isAllowed(Kind kind) const;

    /// Issues a command; issued() or failed() follows. Returns false (and emits failed) when the
    /// role does not allow it or the arguments are incomplete.
    bool issue(Kind kind, const CommandTarget &target, const QJsonObject &args = {});
    bool tune(const CommandTarget &target, const QString &channel) { return issue(Kind::Tune, target, {{u"channel"_qs, channel}}); }
    bool message(const CommandTarget &target, const QString &text, int seconds = 10)
    {
        return issue(Kind::Message, target, {{u"text"_qs, text}, {u"seconds"_qs, seconds}});
    }
    /// Moves every box of `ids` to `channel` (clean | experimental).
    bool moveToChannel(const QList<qint64> &ids, const QString &channel);
    /// Approves pending boxes.
    bool approve(const QList<qint64> &ids);

Q_SIGNALS:
    /// The server queued the batch: `count` commands, `queued` of them for offline boxes.
    void issued(const QString &kind, qint64 batch, int count, int queued, const QList<qint64> &commandIds);
    void failed(const QString &what, const iptv::cerberus::ApiError &error);
    /// Progress of per-box changes (channel moves, approvals).
    void bulkProgress(const QString &what, int done, int total, int failures);
    void bulkFinished(const QString &what, int done, int failures);

private:
    void runBulk(const QString &what, const QList<qint64> &ids, std::function<void(qint64, ReplyHandler)> call);

    ControlClient *m_client;
};

} // namespace iptv::cerberus
