#pragma once

// The audit log (GET /api/audit): newest first, older pages on demand, optionally one account.

#include "controlclient.h"
#include "jsontablemodel.h"

namespace iptv::cerberus {

class AuditController : public QObject
{
    Q_OBJECT
public:
    AuditController(ControlClient *client, QObject *parent = nullptr);

    JsonTableModel *model() const { return m_model; }
    void setAccount(const QString &account) { m_account = account; }
    /// Reloads the newest page.
    void refresh();
    /// Appends the next older page.
    void fetchOlder();
    bool hasMore() const { return m_hasMore; }

Q_SIGNALS:
    void loaded(int rows);

private:
    void fetch(int offset);

    ControlClient *m_client;
    JsonTableModel *m_model;
    QString m_account;
    int m_pageSize = 200;
    bool m_hasMore = true;
};

} // namespace iptv::cerberus
