#include "auditcontroller.h"

#include <QJsonArray>

namespace iptv::cerberus {

AuditController::AuditController(ControlClient *client, QObject *parent)
    : QObject(parent), m_client(client)
{
    auto outcomeColor = [](const QJsonObject &o) {
        const QString s = o.value(u"outcome").toString();
        return s == u"ok" ? QString() : u"#c0392b"_qs;
    };
    m_model = new JsonTableModel(u"id"_qs,
                                 {{u"time"_qs, tr("Time"), [](const QJsonObject &o) { return JsonTableModel::formatTime(o.value(u"time").toInteger()); }},
                                  {u"account"_qs, tr("Account")},
                                  {u"action"_qs, tr("Action")},
                                  {u"target"_qs, tr("Target")},
                                  {u"outcome"_qs, tr("Outcome"), {}, outcomeColor},
                                  {u"detail"_qs, tr("Detail")}},
                                 this);
}

void AuditController::refresh()
{
    fetch(0);
}

void AuditController::fetchOlder()
{
    if (m_hasMore)
        fetch(m_model->rowCount());
}

void AuditController::fetch(int offset)
{
    QUrlQuery q;
    q.addQueryItem(u"limit"_qs, QString::number(m_pageSize));
    q.addQueryItem(u"offset"_qs, QString::number(offset));
    if (!m_account.isEmpty())
        q.addQueryItem(u"account"_qs, m_account);
    m_client->get(u"/api/audit"_qs, q, this, [this, offset](const ApiReply &r) {
        if (!r.ok())
            return;
        const QJsonArray items = r.json.value(u"items").toArray();
        m_hasMore = items.size() >= m_pageSize;
        if (offset == 0) {
            // Newest first: entries newer than what is shown go on top, in order.
            for (qsizetype i = items.size() - 1; i >= 0; --i) {
                const QJsonObject o = items.at(i).toObject();
                if (m_model->rowOf(o.value(u"id")) < 0)
                    m_model->upsert(o, true);
            }
        } else {
            for (const QJsonValue &v : items)
                m_model->upsert(v.toObject());
        }
        Q_EMIT loaded(int(items.size()));
    });
}

} // namespace iptv::cerberus
