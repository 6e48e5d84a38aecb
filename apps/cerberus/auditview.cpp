#include "auditview.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTableView>
#include <QVBoxLayout>

using namespace iptv::cerberus;

namespace cerberus::ui {

AuditView::AuditView(AuditController *audit, QWidget *parent)
    : QWidget(parent), m_audit(audit)
{
    auto *account = new QLineEdit;
    account->setPlaceholderText(tr("All accounts"));
    account->setClearButtonEnabled(true);
    account->setMaximumWidth(220);
    auto *refresh = new QPushButton(tr("&Refresh"));
    refresh->setShortcut(QKeySequence::Refresh);
    auto *older = new QPushButton(tr("Load &older"));
    auto *bar = new QHBoxLayout;
    auto *title = new QLabel(tr("Audit log"));
    title->setStyleSheet(u"font-weight:600; font-size:10.5pt"_qs);
    bar->addWidget(title);
    bar->addStretch(1);
    bar->addWidget(new QLabel(tr("Account")));
    bar->addWidget(account);
    bar->addWidget(refresh);
    bar->addWidget(older);

    m_table = new QTableView;
    m_table->setModel(audit->model());
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setAlternatingRowColors(true);
    m_table->setWordWrap(false);
    m_table->verticalHeader()->hide();
    m_table->verticalHeader()->setDefaultSectionSize(22);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->horizontalHeader()->setHighlightSections(false);
    const int widths[] = {140, 90, 130, 180, 70};
    for (int c = 0; c < 5; ++c)
        m_table->setColumnWidth(c, widths[c]);

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addLayout(bar);
    layout->addWidget(m_table, 1);

    connect(refresh, &QPushButton::clicked, audit, &AuditController::refresh);
    connect(older, &QPushButton::clicked, audit, &AuditController::fetchOlder);
    connect(account, &QLineEdit::editingFinished, this, [this, account] {
        m_audit->setAccount(account->text().trimmed());
        m_audit->model()->clear();
        m_audit->refresh();
    });
}

} // namespace cerberus::ui
