#include "commandcontroller.h"

#include <QJsonArray>

#include <memory>

namespace iptv::cerberus {

namespace {
constexpr int BulkInFlight = 8;
constexpr int ConfirmAbove = 1;
} // namespace

CommandTarget CommandTarget::box(qint64 id)
{
    CommandTarget t;
    t.kind = Kind::Box;
    t.boxes = {id};
    t.description = ControlClient::boxIdText(id);
    t.expectedCount = 1;
    return t;
}

CommandTarget CommandTarget::selection(const QList<qint64> &ids)
{
    if (ids.size() == 1)
        return box(ids.first());
    CommandTarget t;
    t.kind = Kind::Boxes;
    t.boxes = ids;
    t.description = QStringLiteral("%1 boxes").arg(ids.size());
    t.expectedCount = int(ids.size());
    return t;
}

CommandTarget CommandTarget::fleetFilter(const QJsonObject &filter, const QString &description, int expected)
{
    CommandTarget t;
    t.kind = filter.isEmpty() ? Kind::All : Kind::Filter;
    t.filter = filter;
    t.description = description;
    t.expectedCount = expected;
    return t;
}

QJsonObject CommandTarget::toJson() const
{
    switch (kind) {
    case Kind::Box: return {{u"box"_qs, ControlClient::boxIdText(boxes.value(0))}};
    case Kind::Boxes: {
        QJsonArray a;
        for (qint64 id : boxes)
            a.append(ControlClient::boxIdText(id));
        return {{u"boxes"_qs, a}};
    }
    case Kind::Filter: return {{u"filter"_qs, filter}};
    case Kind::All: return {{u"all"_qs, true}};
    }
    return {};
}

CommandController::CommandController(ControlClient *client, QObject *parent)
    : QObject(parent), m_client(client)
{
}

QString CommandController::kindName(Kind kind)
{
    switch (kind) {
    case Kind::Reboot: return u"reboot"_qs;
    case Kind::FactoryReset: return u"factory-reset"_qs;
    case Kind::Tune: return u"tune"_qs;
    case Kind::Message: return u"message"_qs;
    case Kind::CollectLogs: return u"collect-logs"_qs;
    case Kind::Screenshot: return u"screenshot"_qs;
    }
    return {};
}

QString CommandController::kindTitle(Kind kind)
{
    switch (kind) {
    case Kind::Reboot: return tr("Reboot");
    case Kind::FactoryReset: return tr("Factory reset");
    case Kind::Tune: return tr("Tune to channel");
    case Kind::Message: return tr("Show message");
    case Kind::CollectLogs: return tr("Collect logs");
    case Kind::Screenshot: return tr("Screenshot");
    }
    return {};
}

bool CommandController::needsConfirmation(Kind kind, const CommandTarget &target)
{
    if (kind == Kind::FactoryReset)
        return true;
    const bool harmless = kind == Kind::CollectLogs || kind == Kind::Screenshot;
    return !harmless && (target.kind == CommandTarget::Kind::Filter || target.kind == CommandTarget::Kind::All
                         || target.expectedCount > ConfirmAbove);
}

bool CommandController::isAllowed(Kind kind) const
{
    const Permissions *p = m_client->permissions();
    return kind == Kind::FactoryReset ? p->canFactoryReset() : p->canCommand();
}

bool CommandController::issue(Kind kind, const CommandTarget &target, const QJsonObject &args)
{
    const QString name = kindName(kind);
    const QString what = tr("%1 to %2").arg(kindTitle(kind), target.description);
    if (!isAllowed(kind)) {
        Q_EMIT failed(what, {403, u"forbidden"_qs,
                             tr("%1 needs the operator role; you are %2").arg(kindTitle(kind),
                                                                             m_client->permissions()->role().isEmpty()
                                                                                 ? tr("not logged in")
                                                                                 : m_client->permissions()->role())});
        return false;
    }
    if ((kind == Kind::Tune && args.value(u"channel").toString().isEmpty())
        || (kind == Kind::Message && args.value(u"text").toString().isEmpty())) {
        Q_EMIT failed(what, {400, u"bad-request"_qs, kind == Kind::Tune ? tr("name a channel") : tr("write a message")});
        return false;
    }
    if ((target.kind == CommandTarget::Kind::Box || target.kind == CommandTarget::Kind::Boxes) && target.boxes.isEmpty()) {
        Q_EMIT failed(what, {400, u"bad-request"_qs, tr("no box selected")});
        return false;
    }
    QJsonObject body{{u"kind"_qs, name}, {u"target"_qs, target.toJson()}};
    if (!args.isEmpty())
        body.insert(u"args"_qs, args);
    m_client->post(u"/api/commands"_qs, body, this, [this, name, what](const ApiReply &r) {
        if (!r.ok()) {
            Q_EMIT failed(what, r.error);
            return;
        }
        QList<qint64> ids;
        for (const QJsonValue &v : r.json.value(u"commands").toArray())
            ids.append(v.toInteger());
        Q_EMIT issued(name, r.json.value(u"batch").toInteger(), r.json.value(u"count").toInt(),
                      r.json.value(u"queued").toInt(), ids);
    });
    return true;
}

void CommandController::runBulk(const QString &what, const QList<qint64> &ids, std::function<void(qint64, ReplyHandler)> call)
{
    struct State
    {
        QList<qint64> ids;
        qsizetype next = 0;
        int done = 0;
        int failures = 0;
    };
    auto state = std::make_shared<State>();
    state->ids = ids;
    auto pump = std::make_shared<std::function<void()>>();
    *pump = [this, state, what, call, weak = std::weak_ptr<std::function<void()>>(pump)] {
        if (state->next >= state->ids.size())
            return;
        const qint64 id = state->ids.at(state->next++);
        call(id, [this, state, what, weak](const ApiReply &r) {
            ++state->done;
            if (!r.ok()) {
                ++state->failures;
                if (state->failures <= 3)
                    Q_EMIT failed(what, r.error);
            }
            Q_EMIT bulkProgress(what, state->done, int(state->ids.size()), state->failures);
            if (state->done == state->ids.size()) {
                Q_EMIT bulkFinished(what, state->done, state->failures);
                return;
            }
            if (auto p = weak.lock())
                (*p)();
        });
    };
    // The lambdas hold the state; the pump lives as long as requests are in flight.
    auto keep = new QObject(this);
    connect(this, &CommandController::bulkFinished, keep, [keep, pump, what](const QString &w) {
        if (w == what)
            keep->deleteLater();
    });
    for (int i = 0; i < BulkInFlight; ++i)
        (*pump)();
}

bool CommandController::moveToChannel(const QList<qint64> &ids, const QString &channel)
{
    const QString what = tr("Move %n box(es) to %1", nullptr, int(ids.size())).arg(channel);
    if (!m_client->permissions()->canCommand()) {
        Q_EMIT failed(what, {403, u"forbidden"_qs, tr("moving boxes needs the operator role")});
        return false;
    }
    if (ids.isEmpty() || (channel != u"clean" && channel != u"experimental")) {
        Q_EMIT failed(what, {400, u"bad-request"_qs, tr("select boxes and a channel: clean or experimental")});
        return false;
    }
    runBulk(what, ids, [this, channel](qint64 id, ReplyHandler done) {
        m_client->put(u"/api/boxes/"_qs + ControlClient::boxIdText(id) + u"/channel"_qs, {{u"channel"_qs, channel}}, this,
                      std::move(done));
    });
    return true;
}

bool CommandController::approve(const QList<qint64> &ids)
{
    const QString what = tr("Approve %n box(es)", nullptr, int(ids.size()));
    if (!m_client->permissions()->canApprove()) {
        Q_EMIT failed(what, {403, u"forbidden"_qs, tr("approving boxes needs the operator role")});
        return false;
    }
    if (ids.isEmpty())
        return false;
    runBulk(what, ids, [this](qint64 id, ReplyHandler done) {
        m_client->post(u"/api/boxes/"_qs + ControlClient::boxIdText(id) + u"/approve"_qs, {}, this, std::move(done));
    });
    return true;
}

} // namespace iptv::cerberus
