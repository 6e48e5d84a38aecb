#pragma once

// The audit log: who did what to which box, newest first, older pages on demand.

#include <cerberus/auditcontroller.h>

#include <QWidget>

class QTableView;

namespace cerberus::ui {

class AuditView : public QWidget
{
    Q_OBJECT
public:
    AuditView(iptv::cerberus::AuditController *audit, QWidget *parent = nullptr);
    QTableView *table() const { return m_table; }

private:
    iptv::cerberus::AuditController *m_audit;
    QTableView *m_table;
};

} // namespace cerberus::ui
